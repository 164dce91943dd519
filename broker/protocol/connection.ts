/**
 * One client connection: splits the byte stream into frames, decodes requests, runs them
 * concurrently (responses go out as each finishes, matched by correlation id), and turns every
 * failure into an error response. Nothing a client sends can throw out of here: a bad frame
 * gets its error code and, unless the stream itself can no longer be trusted (an oversized
 * frame), the connection keeps serving.
 *
 * Memory is bounded by pausing reads, never by refusing requests. Before the broker reads a
 * frame it gets memory for the frame's declared size: first from the connection's own small
 * allowance, else from the broker-wide request memory; if neither has room, the connection stops
 * reading until a response anywhere frees some. The frame holds that memory until its response
 * is queued on the socket (whose backlog has its own bound). The allowance keeps every
 * connection able to send small requests (heartbeats, metadata, fetches) however much slow
 * clients hold of the shared memory; a frame that has got its memory must then arrive whole
 * within `frameReceiveTimeoutMs`, or the connection is closed, so slow senders (slowloris)
 * cannot keep the shared memory from others. At the limit of requests in flight the connection
 * also stops reading, and goes on as responses go out.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type { RequestEnvelope } from '../../proto/messages.js';
import { decodeRequest, encodeResponse } from '../../proto/wire.js';
import type { ApiHandler, BrokerContext } from '../api/context.js';
import { limits } from '../limits.js';
import { FrameReader } from '../../proto/frame-reader.js';
import type { RequestMemory } from './request-memory.js';

export interface ConnectionOptions {
  frameBytesMax: number;
  inflightRequestsMax: number;
  idleTimeoutMs: number;
  /** Request bytes a connection may hold outside the shared request memory. */
  allowanceBytes: number;
  /** How long a frame that has its memory may take to arrive whole. */
  frameReceiveTimeoutMs: number;
  memory: RequestMemory;
}

/** Memory held by one frame: from the connection's allowance or from the shared pool. */
interface Reservation {
  bytes: number;
  pooled: boolean;
}

export class Connection {
  readonly #socket: net.Socket;
  readonly #handlers: ReadonlyMap<number, ApiHandler>;
  readonly #context: BrokerContext;
  readonly #options: ConnectionOptions;
  readonly #reader = new FrameReader();
  readonly #logger: Logger;
  #inflight = 0;
  #allowanceUsed = 0;
  /** Memory for the frame being received, once it has some. */
  #receiving: Reservation | undefined;
  #cancelWait: (() => void) | undefined;
  #frameTimer: NodeJS.Timeout | undefined;
  #backlogged = false;
  #pumping = false;
  #closed = false;
  #idle: (() => void) | undefined;

  constructor(socket: net.Socket, handlers: ReadonlyMap<number, ApiHandler>, context: BrokerContext, options: ConnectionOptions) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#context = context;
    this.#options = options;
    this.#logger = context.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs, () => {
      if (this.#inflight === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      this.#pump();
    });
    socket.on('drain', () => {
      this.#backlogged = false;
      this.#pump();
    });
    socket.on('error', (error) => this.#logger.debug({ err: error }, 'connection error'));
    socket.once('close', () => this.#stopReading());
  }

  /** True while the connection does not read because it waits for request memory. */
  get waitingForMemory(): boolean {
    return this.#cancelWait !== undefined;
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

  /** Takes every frame that may be taken now, and reads on only if the next one may be. */
  #pump(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        // A frame that has its memory is read to its end; the limits apply before the next one.
        if (this.#receiving === undefined) {
          if (this.#backlogged || this.#cancelWait !== undefined || this.#inflight >= this.#options.inflightRequestsMax) {
            this.#socket.pause();
            return;
          }
          const length = this.#reader.nextLength();
          if (length === undefined) break;
          if (length > this.#options.frameBytesMax) {
            // Past an oversized length prefix the stream has no trustworthy boundary: answer, close.
            this.#abandon(new SluiceError('SLUICE_ERR_FRAME_TOO_LARGE', `a frame of ${length} bytes exceeds the limit of ${this.#options.frameBytesMax}`));
            return;
          }
          if (!this.#reserve(length)) continue;
        }
        const frame = this.#reader.take();
        if (frame === undefined) {
          this.#frameTimer ??= setTimeout(() => this.#frameTimedOut(), this.#options.frameReceiveTimeoutMs);
          break;
        }
        clearTimeout(this.#frameTimer);
        this.#frameTimer = undefined;
        const reservation = this.#receiving!;
        this.#receiving = undefined;
        this.#inflight += 1;
        void this.#handleFrame(frame, reservation);
      }
      this.#socket.resume();
    } finally {
      this.#pumping = false;
    }
  }

  /** Gets memory for the next frame, or queues for it (reading stops until it is granted). */
  #reserve(bytes: number): boolean {
    if (this.#allowanceUsed + bytes <= this.#options.allowanceBytes) {
      this.#allowanceUsed += bytes;
      this.#receiving = { bytes, pooled: false };
      return true;
    }
    if (this.#options.memory.tryTake(bytes)) {
      this.#receiving = { bytes, pooled: true };
      return true;
    }
    this.#cancelWait = this.#options.memory.wait(bytes, () => {
      this.#cancelWait = undefined;
      this.#receiving = { bytes, pooled: true };
      // Granted from inside another connection's release: read on once that one is done.
      queueMicrotask(() => this.#pump());
    });
    return false;
  }

  #release(reservation: Reservation): void {
    if (reservation.pooled) this.#options.memory.release(reservation.bytes);
    else this.#allowanceUsed -= reservation.bytes;
  }

  #frameTimedOut(): void {
    const declared = this.#receiving?.bytes ?? 0;
    this.#logger.warn({ declaredBytes: declared, receivedBytes: this.#reader.buffered, timeoutMs: this.#options.frameReceiveTimeoutMs }, 'closing a connection that sends a request frame too slowly');
    this.#context.metrics.slowFrameClosed();
    this.#abandon(new SluiceError('SLUICE_ERR_REQUEST_TIMED_OUT', `a request frame of ${declared} bytes did not arrive whole within ${this.#options.frameReceiveTimeoutMs} ms; send each request in one go`));
  }

  /** Answers with `error`, stops reading for good and closes once the answers in flight are out. */
  #abandon(error: SluiceError): void {
    if (error.code !== 'SLUICE_ERR_REQUEST_TIMED_OUT') this.#logger.warn({ err: error }, 'closing connection after a bad frame');
    this.#write(encodeResponse({ correlationId: 0, ...errorToWire(error) }));
    this.#stopReading();
    this.#socket.end(() => this.#socket.destroy());
  }

  /** Reads nothing more and gives back the memory of the frame being received. */
  #stopReading(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.pause();
    this.#socket.removeAllListeners('data');
    clearTimeout(this.#frameTimer);
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    if (this.#receiving !== undefined) this.#release(this.#receiving);
    this.#receiving = undefined;
    this.#reader.clear();
  }

  async #handleFrame(frame: Buffer, reservation: Reservation): Promise<void> {
    const started = process.hrtime.bigint();
    let handler: ApiHandler | undefined;
    try {
      let request: RequestEnvelope;
      try {
        request = decodeRequest(frame);
      } catch (error) {
        this.#write(encodeResponse({ correlationId: 0, ...errorToWire(error) }));
        return;
      }
      const correlationId = request.correlationId;
      handler = this.#handlers.get(request.api);
      try {
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
      }
      this.#context.metrics.observeRequest(handler?.name ?? 'unknown', Number(process.hrtime.bigint() - started) / 1e9);
    } finally {
      this.#inflight -= 1;
      this.#release(reservation);
      if (this.#inflight === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
      this.#pump();
    }
  }

  /** Writes one response (maybe several buffers) in one corked batch; stops reading on backlog. */
  #write(...buffers: Buffer[]): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    socket.cork();
    for (const buffer of buffers) socket.write(buffer);
    process.nextTick(() => socket.uncork());
    if (socket.writableLength > limits.socketWriteBufferBytesMax) this.#backlogged = true;
  }
}
