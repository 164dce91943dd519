/**
 * The one framing of the wire (4-byte big-endian length + message), pulled one frame at a
 * time: the broker's connection looks at the next frame's declared length before it takes the
 * frame, so it can get memory for it (or pause reading) first; FrameDecoder pushes on top of
 * it for the client. Chunks are kept as they arrive; a frame spanning several is copied once
 * into a buffer of exactly its size.
 */
const headerBytes = 4;

export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The next frame's message length, once its length prefix has arrived. */
  nextLength(): number | undefined {
    if (this.#buffered < headerBytes) return undefined;
    const first = this.#chunks[0]!;
    if (first.length >= headerBytes) return first.readUInt32BE(0);
    const header = Buffer.allocUnsafe(headerBytes);
    let filled = 0;
    for (const chunk of this.#chunks) {
      filled += chunk.copy(header, filled, 0, Math.min(chunk.length, headerBytes - filled));
      if (filled === headerBytes) break;
    }
    return header.readUInt32BE(0);
  }

  /** The next frame's message, once all of it has arrived; its length prefix is consumed with it. */
  take(): Buffer | undefined {
    const length = this.nextLength();
    if (length === undefined || this.#buffered < headerBytes + length) return undefined;
    const first = this.#chunks[0]!;
    if (first.length >= headerBytes + length) {
      const message = first.subarray(headerBytes, headerBytes + length);
      this.#drop(headerBytes + length);
      return message;
    }
    this.#drop(headerBytes);
    const message = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.#chunks[0]!;
      const copied = chunk.copy(message, filled, 0, Math.min(chunk.length, length - filled));
      filled += copied;
      this.#drop(copied);
    }
    return message;
  }

  /** Forgets everything buffered (the connection is closing). */
  clear(): void {
    this.#chunks = [];
    this.#buffered = 0;
  }

  #drop(bytes: number): void {
    this.#buffered -= bytes;
    while (bytes > 0) {
      const first = this.#chunks[0]!;
      if (first.length <= bytes) {
        this.#chunks.shift();
        bytes -= first.length;
      } else {
        this.#chunks[0] = first.subarray(bytes);
        bytes = 0;
      }
    }
  }
}
