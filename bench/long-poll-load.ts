/**
 * Drives a broker with long-poll fetches that all time out: several connections, each keeping
 * `depth` fetches pipelined on an empty partition with a short `maxWaitMs`. Every fetch parks
 * on the broker until its wait ends, which is the path a leak per long poll would show on.
 * Used by the long-poll soak (bench/long-poll-soak.ts) and by the leak test.
 */
import net from 'node:net';
import { FrameDecoder } from '../proto/frame-decoder.js';
import { Api } from '../proto/messages.js';
import { decodeResponse, encodeRequest } from '../proto/wire.js';

export interface LongPollOptions {
  port: number;
  topic: string;
  connections: number;
  /** Fetches kept in flight on each connection. */
  depth: number;
  maxWaitMs: number;
}

export interface LongPollRound {
  answered: number;
  /** Responses with a top-level error, by wire code. */
  errors: Map<number, number>;
  elapsedMs: number;
}

class PollingConnection {
  readonly #socket: net.Socket;
  readonly #frame: Buffer;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);
  #toSend = 0;
  #outstanding = 0;
  #round: { result: LongPollRound; done: () => void; fail: (error: Error) => void } | undefined;

  constructor(socket: net.Socket, frame: Buffer) {
    this.#socket = socket;
    this.#frame = frame;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#round?.fail(error));
    socket.on('close', () => this.#round?.fail(new Error('the broker closed a polling connection')));
  }

  static open(port: number, frame: Buffer): Promise<PollingConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => {
        socket.off('error', reject);
        resolve(new PollingConnection(socket, frame));
      });
      socket.once('error', reject);
    });
  }

  /** Sends `polls` fetches, at most `depth` unanswered at once, and resolves when all are answered. */
  run(polls: number, depth: number, result: LongPollRound): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#toSend = polls;
      this.#round = { result, done: resolve, fail: reject };
      if (polls === 0) resolve();
      this.#send(depth);
    });
  }

  close(): void {
    this.#round = undefined;
    this.#socket.destroy();
  }

  #send(count: number): void {
    const sending = Math.min(count, this.#toSend);
    if (sending <= 0) return;
    this.#socket.cork();
    for (let index = 0; index < sending; index += 1) this.#socket.write(this.#frame);
    this.#socket.uncork();
    this.#toSend -= sending;
    this.#outstanding += sending;
  }

  #onData(chunk: Buffer): void {
    const round = this.#round;
    if (round === undefined) return;
    const frames = this.#decoder.push(chunk);
    for (const frame of frames) {
      const response = decodeResponse(frame);
      round.result.answered += 1;
      if (response.errorCode !== 0) round.result.errors.set(response.errorCode, (round.result.errors.get(response.errorCode) ?? 0) + 1);
    }
    this.#outstanding -= frames.length;
    this.#send(frames.length);
    if (this.#toSend === 0 && this.#outstanding === 0) {
      this.#round = undefined;
      round.done();
    }
  }
}

export class LongPoller {
  readonly #connections: PollingConnection[];
  readonly #options: LongPollOptions;

  private constructor(connections: PollingConnection[], options: LongPollOptions) {
    this.#connections = connections;
    this.#options = options;
  }

  static async open(options: LongPollOptions): Promise<LongPoller> {
    // Every fetch may carry the same correlation id: only the count of answers matters here.
    const frame = encodeRequest({
      api: Api.FETCH, version: 1, correlationId: 1, clientId: 'long-poller',
      fetch: { maxWaitMs: options.maxWaitMs, minBytes: 1, maxBytes: 1024, topics: [{ name: options.topic, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1024 }] }] },
    });
    const connections = await Promise.all(Array.from({ length: options.connections }, () => PollingConnection.open(options.port, frame)));
    return new LongPoller(connections, options);
  }

  /** Sends `polls` long polls spread over the connections; rejects if any connection breaks or `timeoutMs` passes. */
  async run(polls: number, timeoutMs: number): Promise<LongPollRound> {
    const result: LongPollRound = { answered: 0, errors: new Map(), elapsedMs: 0 };
    const started = performance.now();
    const share = Math.floor(polls / this.#connections.length);
    const rounds = this.#connections.map((connection, index) =>
      connection.run(index === 0 ? polls - share * (this.#connections.length - 1) : share, this.#options.depth, result));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${polls} long polls not answered within ${timeoutMs} ms (${result.answered} were)`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(rounds), timeout]);
    } finally {
      clearTimeout(timer);
    }
    result.elapsedMs = performance.now() - started;
    return result;
  }

  close(): void {
    for (const connection of this.#connections) connection.close();
  }
}
