/**
 * One TCP connection to a broker, pipelined: many requests in flight, each response matched
 * to its request by correlation id. The connection is opened on first use and reopened after
 * a failure, with exponential backoff between attempts; requests in flight when it breaks fail
 * with a retriable SLUICE_ERR_CONNECTION so callers can retry them. Every request has a
 * timeout and honours an AbortSignal.
 */
import net from 'node:net';
import { errorFromWire, SluiceError } from '../proto/errors.js';
import { FrameDecoder } from '../proto/frame-decoder.js';
import { apiBodyField, type ApiKey, type RequestBodies, type ResponseBodies } from '../proto/messages.js';
import { decodeResponse, encodeRequest } from '../proto/wire.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  /** How long a request may wait for its response. */
  requestTimeoutMs?: number;
  /** How long to keep trying to connect before failing a request. */
  connectTimeoutMs?: number;
  /** First pause between connection attempts; doubles up to reconnectBackoffMaxMs. */
  reconnectBackoffMs?: number;
  reconnectBackoffMaxMs?: number;
  /** Largest response frame accepted. */
  frameBytesMax?: number;
}

interface Pending {
  field: string;
  resolve: (body: unknown) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The broker sends no response (produce with acks=0): resolve once written. */
  noResponse?: boolean;
  /** How long to keep trying to connect for this request (default the connection's connectTimeoutMs). */
  connectTimeoutMs?: number;
}

export class BrokerConnection {
  readonly options: Required<ConnectionOptions>;
  #socket: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #pending = new Map<number, Pending>();
  #nextCorrelationId = 1;
  #closed = false;
  /** Closed because the broker left the cluster: requests fail as retriable, to be routed elsewhere. */
  #retired = false;

  constructor(options: ConnectionOptions) {
    this.options = {
      clientId: 'sluice-client',
      requestTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      reconnectBackoffMs: 50,
      reconnectBackoffMaxMs: 1_000,
      frameBytesMax: 256 * 1024 * 1024,
      ...options,
    };
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  get inflight(): number {
    return this.#pending.size;
  }

  async request<F extends keyof RequestBodies>(api: ApiKey, body: RequestBodies[F], options: RequestOptions = {}): Promise<ResponseBodies[F]> {
    const field = apiBodyField[api] as F;
    options.signal?.throwIfAborted();
    const socket = await this.#connect(options.signal, options.connectTimeoutMs ?? this.options.connectTimeoutMs);
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = (this.#nextCorrelationId % 0x7fffffff) + 1;
    const frame = encodeRequest({ api, version: 1, correlationId, clientId: this.options.clientId, [field]: body });
    if (options.noResponse) {
      await new Promise<void>((resolve, reject) => socket.write(frame, (error) => (error ? reject(this.#connectionError(error)) : resolve())));
      return undefined as never;
    }
    return new Promise<ResponseBodies[F]>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        reject(new SluiceError('SLUICE_ERR_TIMEOUT', `no response from ${this.address} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = () => {
        clearTimeout(timer);
        this.#pending.delete(correlationId);
        reject(new SluiceError('SLUICE_ERR_ABORTED', 'request aborted', { cause: options.signal?.reason }));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(correlationId, {
        field,
        timer,
        resolve: (value) => {
          options.signal?.removeEventListener('abort', onAbort);
          resolve(value as ResponseBodies[F]);
        },
        reject: (error) => {
          options.signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      socket.write(frame);
    });
  }

  #connectionError(cause: unknown): SluiceError {
    return new SluiceError('SLUICE_ERR_CONNECTION', `connection to ${this.address} failed: ${(cause as Error)?.message ?? cause}`, { cause });
  }

  #connect(signal: AbortSignal | undefined, timeoutMs: number): Promise<net.Socket> {
    if (this.#retired) return Promise.reject(this.#connectionError(new Error('the broker left the cluster metadata')));
    if (this.#closed) return Promise.reject(new SluiceError('SLUICE_ERR_ABORTED', 'the connection was closed'));
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    this.#connecting ??= this.#connectWithBackoff(signal, timeoutMs).finally(() => { this.#connecting = undefined; });
    return this.#connecting;
  }

  async #connectWithBackoff(signal: AbortSignal | undefined, timeoutMs: number): Promise<net.Socket> {
    const deadline = Date.now() + timeoutMs;
    let backoff = this.options.reconnectBackoffMs;
    for (;;) {
      try {
        const socket = await this.#openSocket(Math.max(1, deadline - Date.now()));
        this.#attach(socket);
        return socket;
      } catch (error) {
        if (this.#closed || signal?.aborted || Date.now() + backoff >= deadline) throw this.#connectionError(error);
      }
      await new Promise((resolve) => setTimeout(resolve, backoff * (0.5 + Math.random() / 2)));
      backoff = Math.min(backoff * 2, this.options.reconnectBackoffMaxMs);
    }
  }

  #openSocket(timeoutMs: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.options.host, port: this.options.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  #attach(socket: net.Socket): void {
    this.#socket = socket;
    const decoder = new FrameDecoder(this.options.frameBytesMax);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) this.#onFrame(frame);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      const error = this.#connectionError(new Error('the broker closed the connection'));
      for (const [correlationId, pending] of this.#pending) {
        clearTimeout(pending.timer);
        this.#pending.delete(correlationId);
        pending.reject(error);
      }
    });
  }

  #onFrame(frame: Buffer): void {
    const response = decodeResponse(frame);
    const pending = this.#pending.get(response.correlationId);
    if (pending === undefined) return;
    this.#pending.delete(response.correlationId);
    clearTimeout(pending.timer);
    if (response.errorCode !== 0) pending.reject(errorFromWire(response.errorCode, response.errorMessage));
    else pending.resolve(response[pending.field]);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection of a broker that left the cluster: its requests fail as retriable. */
  retire(): void {
    this.#retired = true;
    this.close();
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}
