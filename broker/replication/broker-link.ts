/**
 * A broker's own request/response connection to another broker (a follower to its leader),
 * over the wire contract in proto/. It connects on first use, matches answers by correlation
 * id, times every request out, and on any failure closes and fails everything in flight, so the
 * caller backs off and the next request connects again. Deliberately small: the broker does not
 * depend on the client library (client/ is for applications).
 */
import net from 'node:net';
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { FrameDecoder } from '../../proto/frame-decoder.js';
import { type ApiKey, apiBodyField, type RequestBodies, type ResponseBodies, type ResponseEnvelope } from '../../proto/messages.js';
import { decodeResponse, encodeRequest } from '../../proto/wire.js';

export interface BrokerLinkOptions {
  host: string;
  port: number;
  clientId: string;
  /** replica.socket.timeout.ms: connect and answer deadline. */
  timeoutMs: number;
  /** The largest response frame accepted. */
  frameBytesMax: number;
  /** Local address to connect from (fault tests give each broker its own 127.0.0.x). */
  localAddress?: string;
}

interface Pending {
  field: string;
  timer: NodeJS.Timeout;
  resolve: (body: unknown) => void;
  reject: (error: SluiceError) => void;
}

export class BrokerLink {
  readonly options: BrokerLinkOptions;
  #socket: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #nextCorrelationId = 1;
  readonly #pending = new Map<number, Pending>();
  #closed = false;

  constructor(options: BrokerLinkOptions) {
    this.options = options;
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  async request<F extends keyof RequestBodies>(api: ApiKey, body: RequestBodies[F], timeoutMs = this.options.timeoutMs): Promise<ResponseBodies[F]> {
    const field = apiBodyField[api] as F;
    const socket = await this.#connect();
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = (this.#nextCorrelationId % 0x7fffffff) + 1;
    return new Promise<ResponseBodies[F]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        // A late answer would be matched to nothing; a fresh connection starts clean.
        this.#drop(new SluiceError('SLUICE_ERR_TIMEOUT', `no answer from broker ${this.address} within ${timeoutMs} ms`));
        reject(new SluiceError('SLUICE_ERR_TIMEOUT', `no answer from broker ${this.address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(correlationId, { field, timer, resolve: resolve as (body: unknown) => void, reject });
      socket.write(encodeRequest({ api, version: 1, correlationId, clientId: this.options.clientId, [field]: body }));
    });
  }

  #connect(): Promise<net.Socket> {
    if (this.#closed) return Promise.reject(new SluiceError('SLUICE_ERR_CONNECTION', `link to broker ${this.address} is closed`));
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: this.options.host, port: this.options.port, localAddress: this.options.localAddress });
      const decoder = new FrameDecoder(this.options.frameBytesMax);
      const timer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      socket.setNoDelay(true);
      socket.once('connect', () => {
        clearTimeout(timer);
        if (this.#closed) {
          socket.destroy();
          return;
        }
        this.#socket = socket;
        this.#connecting = undefined;
        resolve(socket);
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const frame of decoder.push(chunk)) this.#answer(decodeResponse(frame));
        } catch (error) {
          this.#drop(SluiceError.is(error) ? error : new SluiceError('SLUICE_ERR_CONNECTION', `bad answer from broker ${this.address}`, { cause: error }));
        }
      });
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(timer);
        const error = new SluiceError('SLUICE_ERR_CONNECTION', `connection to broker ${this.address} closed`);
        if (this.#socket === socket) this.#drop(error);
        if (this.#connecting !== undefined && this.#socket !== socket) {
          this.#connecting = undefined;
          reject(error);
        }
      });
    });
    return this.#connecting;
  }

  #answer(response: ResponseEnvelope): void {
    const pending = this.#pending.get(response.correlationId);
    if (pending === undefined) return;
    this.#pending.delete(response.correlationId);
    clearTimeout(pending.timer);
    if (response.errorCode !== 0) pending.reject(errorFromWire(response.errorCode, response.errorMessage));
    else pending.resolve(response[pending.field]);
  }

  /** Closes the connection and fails what is in flight; the next request reconnects. */
  #drop(error: SluiceError): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
  }

  close(): void {
    this.#closed = true;
    this.#drop(new SluiceError('SLUICE_ERR_CONNECTION', `link to broker ${this.address} closed`));
  }
}
