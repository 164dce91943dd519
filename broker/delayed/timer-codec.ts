/**
 * The two internal headers of the timer log (`__delayed_records`). A held record carries
 * `x-sluice-delay-target` (where it goes, and its target's log end when it was produced: the
 * earliest offset a firing of it can have there). A fired marker, appended after a firing round
 * reached its targets, carries `x-sluice-delay-fired` (the timer offsets fired, and each
 * target's log end after the round). Both are small binary values; a value that does not parse
 * is a typed CORRUPT_MESSAGE error, never a crash.
 */
import { SluiceError } from '../../proto/errors.js';

export const targetHeader = 'x-sluice-delay-target';
export const firedHeader = 'x-sluice-delay-fired';

export interface DelayTarget {
  topic: string;
  partition: number;
  /** The target partition's log end offset when the delayed record was produced. */
  endAtProduce: number;
}

export interface FiredTargetEnd {
  topic: string;
  partition: number;
  /** The target's log end offset once the round's appends were in. */
  end: number;
}

export interface FiredMarker {
  offsets: number[];
  targets: FiredTargetEnd[];
}

const version = 1;

function corrupt(what: string, detail: string): SluiceError {
  return new SluiceError('SLUICE_ERR_CORRUPT_MESSAGE', `a ${what} value of the timer log does not parse: ${detail}`);
}

/** A bounds-checked cursor: every read past the end is a typed error. */
class Cursor {
  position = 0;
  constructor(readonly bytes: Buffer, readonly what: string) {}

  #need(count: number): void {
    if (this.position + count > this.bytes.length) throw corrupt(this.what, `needs ${count} bytes at ${this.position}, has ${this.bytes.length - this.position}`);
  }

  u8(): number {
    this.#need(1);
    return this.bytes[this.position++]!;
  }

  u32(): number {
    this.#need(4);
    const value = this.bytes.readUInt32BE(this.position);
    this.position += 4;
    return value;
  }

  offset(): number {
    this.#need(8);
    const value = this.bytes.readDoubleBE(this.position);
    this.position += 8;
    if (!Number.isSafeInteger(value) || value < 0) throw corrupt(this.what, `offset ${value} is not a non-negative integer`);
    return value;
  }

  topic(): string {
    this.#need(2);
    const length = this.bytes.readUInt16BE(this.position);
    this.position += 2;
    this.#need(length);
    const topic = this.bytes.toString('utf8', this.position, this.position + length);
    this.position += length;
    return topic;
  }

  end(): void {
    if (this.position !== this.bytes.length) throw corrupt(this.what, `${this.bytes.length - this.position} bytes follow the value`);
  }
}

function start(bytes: Buffer | null, what: string): Cursor {
  if (bytes === null) throw corrupt(what, 'it is null');
  const cursor = new Cursor(bytes, what);
  const found = cursor.u8();
  if (found !== version) throw corrupt(what, `version ${found}, expected ${version}`);
  return cursor;
}

function topicBytes(topic: string): Buffer {
  const bytes = Buffer.from(topic, 'utf8');
  if (bytes.length > 0xffff) throw new SluiceError('SLUICE_ERR_INVALID_TOPIC', `topic name of ${bytes.length} bytes is too long for the timer log`);
  return bytes;
}

export function encodeTarget(target: DelayTarget): Buffer {
  const topic = topicBytes(target.topic);
  const out = Buffer.allocUnsafe(1 + 4 + 8 + 2 + topic.length);
  out[0] = version;
  out.writeUInt32BE(target.partition, 1);
  out.writeDoubleBE(target.endAtProduce, 5);
  out.writeUInt16BE(topic.length, 13);
  topic.copy(out, 15);
  return out;
}

export function decodeTarget(bytes: Buffer | null): DelayTarget {
  const cursor = start(bytes, targetHeader);
  const partition = cursor.u32();
  const endAtProduce = cursor.offset();
  const topic = cursor.topic();
  cursor.end();
  return { topic, partition, endAtProduce };
}

export function encodeFired(marker: FiredMarker): Buffer {
  const topics = marker.targets.map((target) => topicBytes(target.topic));
  let size = 1 + 4 + 8 * marker.offsets.length + 4;
  for (const topic of topics) size += 4 + 8 + 2 + topic.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = version;
  let position = out.writeUInt32BE(marker.offsets.length, 1);
  for (const offset of marker.offsets) position = out.writeDoubleBE(offset, position);
  position = out.writeUInt32BE(marker.targets.length, position);
  marker.targets.forEach((target, index) => {
    position = out.writeUInt32BE(target.partition, position);
    position = out.writeDoubleBE(target.end, position);
    position = out.writeUInt16BE(topics[index]!.length, position);
    position += topics[index]!.copy(out, position);
  });
  return out;
}

export function decodeFired(bytes: Buffer | null): FiredMarker {
  const cursor = start(bytes, firedHeader);
  const count = cursor.u32();
  // Each offset takes 8 bytes: a larger count cannot be honest (and must not size an array).
  if (count * 8 > cursor.bytes.length - cursor.position) throw corrupt(firedHeader, `declares ${count} offsets in ${cursor.bytes.length - cursor.position} bytes`);
  const offsets = new Array<number>(count);
  for (let index = 0; index < count; index += 1) offsets[index] = cursor.offset();
  const targetCount = cursor.u32();
  if (targetCount * 14 > cursor.bytes.length - cursor.position) throw corrupt(firedHeader, `declares ${targetCount} targets in ${cursor.bytes.length - cursor.position} bytes`);
  const targets: FiredTargetEnd[] = [];
  for (let index = 0; index < targetCount; index += 1) {
    const partition = cursor.u32();
    const end = cursor.offset();
    targets.push({ topic: cursor.topic(), partition, end });
  }
  cursor.end();
  return { offsets, targets };
}
