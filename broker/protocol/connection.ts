/**
 * One client connection: splits the byte stream into frames, decodes requests, runs them
 * concurrently (responses go out as each finishes, matched by correlation id), and turns every
 * failure into an error response. Nothing a client sends can throw out of here: a bad frame
 * gets its error code and, unless the stream itself can no longer be trusted (an oversized
 * frame), the connection keeps serving.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type { RequestEnvelope } from '../../proto/messages.js';
import { FrameDecoder } from '../../proto/frame-decoder.js';
import { decodeRequest, encodeResponse } from '../../proto/wire.js';
import type { ApiHandler, BrokerContext } from '../api/context.js';
import { limits } from '../limits.js';

export interface ConnectionOptions {
  frameBytesMax: number;
  inflightRequestsMax: number;
  idleTimeoutMs: number;
}

export class Connection {
  readonly #socket: net.Socket;
  readonly #handlers: ReadonlyMap<number, ApiHandler>;
  readonly #context: BrokerContext;
  readonly #options: ConnectionOptions;
  readonly #decoder: FrameDecoder;
  readonly #logger: Logger;
  #inflight = 0;
  #idle: (() => void) | undefined;

  constructor(socket: net.Socket, handlers: ReadonlyMap<number, ApiHandler>, context: BrokerContext, options: ConnectionOptions) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#context = context;
    this.#options = options;
    this.#decoder = new FrameDecoder(options.frameBytesMax);
    this.#logger = context.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs, () => {
      if (this.#inflight === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => socket.resume());
    socket.on('error', (error) => this.#logger.debug({ err: error }, 'connection error'));
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => { this.#idle = resolve; });
  }

  /** Sends what is queued, then closes. */
  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      // Past an oversized length prefix the stream has no trustworthy boundary: answer, close.
      this.#logger.warn({ err: error }, 'closing connection after a bad frame');
      this.#write(encodeResponse({ correlationId: 0, ...errorToWire(error) }));
      this.#socket.end();
      this.#socket.removeAllListeners('data');
      return;
    }
    for (const frame of frames) void this.#handleFrame(frame);
  }

  async #handleFrame(frame: Buffer): Promise<void> {
    const started = process.hrtime.bigint();
    let request: RequestEnvelope;
    try {
      request = decodeRequest(frame);
    } catch (error) {
      this.#write(encodeResponse({ correlationId: 0, ...errorToWire(error) }));
      return;
    }
    const correlationId = request.correlationId;
    const handler = this.#handlers.get(request.api);
    this.#inflight += 1;
    try {
      if (this.#inflight > this.#options.inflightRequestsMax) {
        throw new SluiceError('SLUICE_ERR_TOO_MANY_REQUESTS', `more than ${this.#options.inflightRequestsMax} requests in flight on one connection`);
      }
      if (handler === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_API', `unknown API ${request.api}`);
      if (request.version < handler.minVersion || request.version > handler.maxVersion) {
        throw new SluiceError('SLUICE_ERR_UNSUPPORTED_VERSION', `${handler.name} supports versions ${handler.minVersion}..${handler.maxVersion}, not ${request.version}`);
      }
      if (request.body !== handler.bodyField) {
        throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `${handler.name} needs a ${handler.bodyField} body, got ${request.body ?? 'none'}`);
      }
      const result = await handler.handle(request, this.#context);
      if (result.kind === 'body') this.#write(encodeResponse({ correlationId, [handler.bodyField]: result.body } as never));
      else if (result.kind === 'frames') this.#write(...result.frames);
    } catch (error) {
      if (!SluiceError.is(error)) this.#logger.error({ err: error, api: request.api }, 'request failed');
      this.#write(encodeResponse({ correlationId, ...errorToWire(error) }));
    } finally {
      this.#inflight -= 1;
      this.#context.metrics.observeRequest(handler?.name ?? 'unknown', Number(process.hrtime.bigint() - started) / 1e9);
      if (this.#inflight === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }

  /** Writes one response (maybe several buffers) in one corked batch; pauses reads on backlog. */
  #write(...buffers: Buffer[]): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    socket.cork();
    for (const buffer of buffers) socket.write(buffer);
    process.nextTick(() => socket.uncork());
    if (socket.writableLength > limits.socketWriteBufferBytesMax) socket.pause();
  }
}
