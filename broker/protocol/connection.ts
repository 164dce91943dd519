/**
 * One client connection, whatever its protocol: splits the byte stream into frames (4-byte
 * length, then the message: Sluice's framing and Kafka's alike), hands each to the protocol
 * (native-protocol.ts, or broker/kafka/kafka-protocol.ts), many at once, and bounds what the
 * connection may hold. Nothing a client sends can throw out of here: the protocol turns every
 * failure into an error response or, when the stream can no longer be trusted, a close.
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
import { SluiceError } from '../../proto/errors.js';
import type { BrokerContext } from '../api/context.js';
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

/** What a connection offers its protocol. */
export interface ConnectionIo {
  readonly logger: Logger;
  /** Queues one response (maybe several buffers) in one corked batch. */
  write(...buffers: Buffer[]): void;
  /** Reads nothing more and closes once what is queued is written (the protocol cannot go on with this client). */
  close(): void;
}

/** What one connection's protocol does with its frames; one instance per connection. */
export interface FrameProtocol {
  /**
   * Runs one request frame and resolves once its answer (if any) is queued on the socket: the
   * frame holds its memory and its in-flight slot until then. Never rejects.
   */
  handle(frame: Buffer, io: ConnectionIo): Promise<void>;
  /** What to send before closing a stream that can no longer be trusted (an oversized or too slow frame); may be nothing. */
  closingAnswer(error: SluiceError): Buffer[];
}

/** Memory held by one frame: from the connection's allowance or from the shared pool. */
interface Reservation {
  bytes: number;
  pooled: boolean;
}

export class Connection {
  readonly #socket: net.Socket;
  readonly #protocol: FrameProtocol;
  readonly #io: ConnectionIo;
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

  constructor(socket: net.Socket, protocol: FrameProtocol, context: BrokerContext, options: ConnectionOptions) {
    this.#socket = socket;
    this.#protocol = protocol;
    this.#context = context;
    this.#options = options;
    this.#logger = context.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.#io = {
      logger: this.#logger,
      write: (...buffers) => this.#write(...buffers),
      close: () => {
        this.#stopReading();
        socket.end(() => socket.destroy());
      },
    };
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
    const answer = this.#protocol.closingAnswer(error);
    if (answer.length > 0) this.#write(...answer);
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
    try {
      await this.#protocol.handle(frame, this.#io);
    } catch (error) {
      // A protocol answers its own failures; reaching here is a bug, and still must not crash the broker.
      this.#logger.error({ err: error }, 'request handling failed');
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
