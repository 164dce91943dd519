/**
 * Framing pushed a chunk at a time: each chunk in, the whole frames now available out (the
 * client's side, and test peers). A frame longer than `frameBytesMax` is an error: the stream
 * cannot be trusted past it, and the caller closes. The framing itself is FrameReader's.
 */
import { SluiceError } from './errors.js';
import { FrameReader } from './frame-reader.js';

export class FrameDecoder {
  readonly #reader = new FrameReader();
  readonly frameBytesMax: number;

  constructor(frameBytesMax: number) {
    this.frameBytesMax = frameBytesMax;
  }

  /** Adds a chunk; returns the whole frames now available (message bytes only). */
  push(chunk: Buffer): Buffer[] {
    this.#reader.push(chunk);
    const frames: Buffer[] = [];
    for (let length = this.#reader.nextLength(); length !== undefined; length = this.#reader.nextLength()) {
      if (length > this.frameBytesMax) {
        throw new SluiceError('SLUICE_ERR_FRAME_TOO_LARGE', `a frame of ${length} bytes exceeds the limit of ${this.frameBytesMax}`);
      }
      const frame = this.#reader.take();
      if (frame === undefined) break;
      frames.push(frame);
    }
    return frames;
  }

  get buffered(): number {
    return this.#reader.buffered;
  }
}
