/**
 * Splits a byte stream into frames (4-byte big-endian length + message). Chunks are kept as
 * they arrive and joined only when a frame spans them, so a large fetch response is copied
 * once at most. A frame longer than `frameBytesMax` is an error: the stream cannot be trusted
 * past it, and the caller answers and closes.
 */
import { SluiceError } from './errors.js';

export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly frameBytesMax: number;

  constructor(frameBytesMax: number) {
    this.frameBytesMax = frameBytesMax;
  }

  /** Adds a chunk; returns the whole frames now available (message bytes only). */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#buffered < 4) break;
      const head = this.#peekLength();
      if (head > this.frameBytesMax) {
        throw new SluiceError('SLUICE_ERR_FRAME_TOO_LARGE', `a frame of ${head} bytes exceeds the limit of ${this.frameBytesMax}`);
      }
      if (this.#buffered < 4 + head) break;
      const whole = this.#take(4 + head);
      frames.push(whole.subarray(4));
    }
    return frames;
  }

  get buffered(): number {
    return this.#buffered;
  }

  #peekLength(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return this.#take(4, true).readUInt32BE(0);
  }

  /** The next `bytes` bytes, joining chunks if needed; `peek` leaves them in place. */
  #take(bytes: number, peek = false): Buffer {
    const first = this.#chunks[0]!;
    let result: Buffer;
    if (first.length >= bytes) {
      result = first.subarray(0, bytes);
      if (!peek) {
        if (first.length === bytes) this.#chunks.shift();
        else this.#chunks[0] = first.subarray(bytes);
      }
    } else {
      const joined = Buffer.concat(this.#chunks, this.#buffered);
      result = joined.subarray(0, bytes);
      this.#chunks = joined.length > bytes || peek ? [peek ? joined : joined.subarray(bytes)] : [];
    }
    if (!peek) this.#buffered -= bytes;
    return result;
  }
}
