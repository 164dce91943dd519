/**
 * A bounds-checked cursor over a Buffer for decoding untrusted bytes. Every read checks what
 * is left first and throws CorruptRecordError, so truncated or hostile input ends in a typed
 * error, never a RangeError, an overlong loop or a huge allocation.
 */
import { CorruptRecordError } from '../errors.js';

export class ByteReader {
  readonly buffer: Buffer;
  position: number;
  readonly end: number;

  constructor(buffer: Buffer, position = 0, end = buffer.length) {
    this.buffer = buffer;
    this.position = position;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  #need(bytes: number, what: string): void {
    if (bytes > this.end - this.position) {
      throw new CorruptRecordError(`${what} needs ${bytes} bytes at position ${this.position}, only ${this.end - this.position} left`);
    }
  }

  int8(): number {
    this.#need(1, 'int8');
    return this.buffer.readInt8(this.position++);
  }

  /** Zigzag varint, at most 5 bytes (int32). */
  varint(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.#need(1, 'varint');
      const byte = this.buffer[this.position++]!;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (result >>> 1) ^ -(result & 1);
    }
    throw new CorruptRecordError(`varint longer than 5 bytes at position ${this.position}`);
  }

  /** Zigzag varlong, at most 10 bytes; exact up to 2^53. */
  varlong(): number {
    let result = 0;
    let scale = 1;
    for (let index = 0; index < 10; index += 1) {
      this.#need(1, 'varlong');
      const byte = this.buffer[this.position++]!;
      result += (byte & 0x7f) * scale;
      scale *= 0x80;
      if ((byte & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    }
    throw new CorruptRecordError(`varlong longer than 10 bytes at position ${this.position}`);
  }

  /** `length` bytes as a view (no copy). */
  bytes(length: number, what: string): Buffer {
    if (length < 0) throw new CorruptRecordError(`${what} has negative length ${length} at position ${this.position}`);
    this.#need(length, what);
    const view = this.buffer.subarray(this.position, this.position + length);
    this.position += length;
    return view;
  }

  /** Varint length then bytes; length -1 means null. */
  nullableBytes(what: string): Buffer | null {
    const length = this.varint();
    if (length === -1) return null;
    return this.bytes(length, what);
  }
}
