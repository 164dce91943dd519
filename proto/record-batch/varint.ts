/**
 * Kafka's varints: a signed value is zigzag-mapped (0, -1, 1, -2 … → 0, 1, 2, 3 …) and written
 * as unsigned LEB128, 7 bits a byte, least significant first, high bit = more follows.
 * varint carries int32 (at most 5 bytes), varlong int64 (at most 10). JavaScript numbers are
 * exact to 2^53, which covers every timestamp and offset delta Sluice writes, so varlong is
 * done with float arithmetic instead of BigInt.
 */

/** Bytes `value` (an int32) takes as a zigzag varint. */
export function varintSize(value: number): number {
  const zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  if (zigzag < 0x80) return 1;
  if (zigzag < 0x4000) return 2;
  if (zigzag < 0x200000) return 3;
  if (zigzag < 0x10000000) return 4;
  return 5;
}

/** Writes `value` (an int32) at `position`; returns the position after it. */
export function writeVarint(buffer: Buffer, position: number, value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    buffer[position++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buffer[position++] = zigzag;
  return position;
}

function zigzagLong(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function varlongSize(value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return varintSize(value);
  let zigzag = zigzagLong(value);
  let size = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 0x80);
    size += 1;
  }
  return size;
}

/** Writes `value` (a safe integer) as a zigzag varlong; returns the position after it. */
export function writeVarlong(buffer: Buffer, position: number, value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return writeVarint(buffer, position, value);
  let zigzag = zigzagLong(value);
  while (zigzag >= 0x80) {
    buffer[position++] = (zigzag % 0x80) | 0x80;
    zigzag = Math.floor(zigzag / 0x80);
  }
  buffer[position++] = zigzag;
  return position;
}
