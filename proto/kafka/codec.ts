/**
 * Encoders and decoders for Kafka protocol messages, derived from their schemas (schema.ts).
 *
 * Each (schema, version) is compiled once into a tree of closures — one per field, with the
 * version's encoding (classic or compact), nullability and tagged fields decided at compile
 * time — and cached, so the per-call work is only the reading and writing itself.
 *
 * Decoding never copies bytes and records: they come back as subarrays of the input. A length
 * or count is checked against the bytes left before anything is allocated for it, so a hostile
 * length fails fast instead of asking for gigabytes; malformed input throws KafkaProtocolError
 * and nothing else. Encoding returns chunks: the message's own bytes in as few buffers as
 * possible, with each records value (a RecordBatch, or several) spliced in as its own chunk,
 * never copied.
 */
import { KafkaProtocolError } from './error-codes.js';
import {
  type FieldSchema,
  type KafkaMessage,
  type KafkaMessageInput,
  type MessageSchema,
  type PrimitiveType,
  inVersions,
  versionBounds,
} from './schema.js';

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const emptyBuffer = Buffer.alloc(0);
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const two32 = 4294967296;
const two63 = 2 ** 63;

// ---- Reading ----

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}
}

type ReadFn = (r: Reader) => unknown;

function truncated(r: Reader, needed: number, where: string): KafkaProtocolError {
  return new KafkaProtocolError(`${where}: needs ${needed} bytes at offset ${r.pos}, only ${r.end - r.pos} left`);
}

/** Kafka's unsigned varint (lengths, counts, tags): at most 5 bytes, at most 2^32 − 1. */
function readUvarint(r: Reader, where: string): number {
  if (r.pos >= r.end) throw truncated(r, 1, where);
  const first = r.buf[r.pos]!;
  if (first < 0x80) {
    r.pos += 1;
    return first;
  }
  let value = first & 0x7f;
  let scale = 0x80;
  for (let i = 1; i < 5; i += 1) {
    if (r.pos + i >= r.end) throw truncated(r, i + 1, where);
    const byte = r.buf[r.pos + i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (value > 0xffffffff) throw new KafkaProtocolError(`${where}: unsigned varint ${value} is larger than 32 bits`);
      r.pos += i + 1;
      return value;
    }
    scale *= 0x80;
  }
  throw new KafkaProtocolError(`${where}: unsigned varint longer than 5 bytes at offset ${r.pos}`);
}

function readInt16At(buf: Buffer, p: number): number {
  return (((buf[p]! << 8) | buf[p + 1]!) << 16) >> 16;
}

function readInt32At(buf: Buffer, p: number): number {
  return (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
}

function primitiveReader(type: Exclude<PrimitiveType, 'string' | 'bytes' | 'records'>, where: string): ReadFn {
  switch (type) {
    case 'int8':
      return (r) => {
        if (r.pos + 1 > r.end) throw truncated(r, 1, where);
        return (r.buf[r.pos++]! << 24) >> 24;
      };
    case 'bool':
      return (r) => {
        if (r.pos + 1 > r.end) throw truncated(r, 1, where);
        return r.buf[r.pos++] !== 0;
      };
    case 'int16':
      return (r) => {
        if (r.pos + 2 > r.end) throw truncated(r, 2, where);
        const value = readInt16At(r.buf, r.pos);
        r.pos += 2;
        return value;
      };
    case 'uint16':
      return (r) => {
        if (r.pos + 2 > r.end) throw truncated(r, 2, where);
        const value = (r.buf[r.pos]! << 8) | r.buf[r.pos + 1]!;
        r.pos += 2;
        return value;
      };
    case 'int32':
      return (r) => {
        if (r.pos + 4 > r.end) throw truncated(r, 4, where);
        const value = readInt32At(r.buf, r.pos);
        r.pos += 4;
        return value;
      };
    case 'int64':
      // Exact up to 2^53, which every offset, timestamp and id Sluice uses fits in; beyond that
      // the nearest double (Long.MAX_VALUE reads as 2^63 and is written back as Long.MAX_VALUE).
      return (r) => {
        if (r.pos + 8 > r.end) throw truncated(r, 8, where);
        const high = readInt32At(r.buf, r.pos);
        const low = readInt32At(r.buf, r.pos + 4) >>> 0;
        r.pos += 8;
        return high * two32 + low;
      };
    case 'float64':
      return (r) => {
        if (r.pos + 8 > r.end) throw truncated(r, 8, where);
        const value = r.buf.readDoubleBE(r.pos);
        r.pos += 8;
        return value;
      };
    case 'uuid':
      return (r) => {
        if (r.pos + 16 > r.end) throw truncated(r, 16, where);
        const hex = r.buf.toString('hex', r.pos, r.pos + 16);
        r.pos += 16;
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      };
  }
}

/**
 * Reads a length prefix: int16 (strings) or int32 (bytes, arrays) in classic versions, uvarint
 * length + 1 in compact ones. Returns −1 for null (only where the version allows null), else a
 * length no larger than what the remaining bytes can hold at `unit` bytes an element.
 */
function lengthReader(kind: 'int16' | 'int32' | 'compact', nullable: boolean, unit: number, where: string): (r: Reader) => number {
  const check = (r: Reader, length: number): number => {
    if (length < -1) throw new KafkaProtocolError(`${where}: negative length ${length}`);
    if (length === -1) {
      if (!nullable) throw new KafkaProtocolError(`${where}: null where this version allows none`);
      return -1;
    }
    if (length * unit > r.end - r.pos) {
      throw new KafkaProtocolError(`${where}: length ${length} is more than the ${r.end - r.pos} bytes left`);
    }
    return length;
  };
  switch (kind) {
    case 'int16':
      return (r) => {
        if (r.pos + 2 > r.end) throw truncated(r, 2, where);
        const length = readInt16At(r.buf, r.pos);
        r.pos += 2;
        return check(r, length);
      };
    case 'int32':
      return (r) => {
        if (r.pos + 4 > r.end) throw truncated(r, 4, where);
        const length = readInt32At(r.buf, r.pos);
        r.pos += 4;
        return check(r, length);
      };
    case 'compact':
      return (r) => check(r, readUvarint(r, where) - 1);
  }
}

// ---- Writing ----

class Writer {
  buf: Buffer;
  pos = 0;
  /** Where the bytes not yet handed to `chunks` begin. */
  start = 0;
  readonly chunks: Buffer[] = [];

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(bytes: number): void {
    if (this.pos + bytes > this.buf.length) this.grow(bytes);
  }

  /** Moves the pending bytes to a larger buffer; chunks already handed out keep the old one. */
  private grow(bytes: number): void {
    const pending = this.pos - this.start;
    let size = this.buf.length * 2;
    while (size < pending + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  /** Splices `data` in as its own chunk, after the bytes written so far. */
  splice(data: Buffer): void {
    if (data.length === 0) return;
    if (this.pos > this.start) this.chunks.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
    this.chunks.push(data);
  }

  finish(): Buffer[] {
    if (this.pos > this.start) this.chunks.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
    return this.chunks;
  }
}

type WriteFn = (w: Writer, value: unknown) => void;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function invalid(where: string, value: unknown, expected: string): KafkaProtocolError {
  return new KafkaProtocolError(`${where}: expected ${expected}, got ${describe(value)}`);
}

function writeUvarint(w: Writer, value: number): void {
  w.ensure(5);
  const buf = w.buf;
  while (value >= 0x80) {
    buf[w.pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[w.pos++] = value;
}

function writeInt16(w: Writer, value: number): void {
  w.ensure(2);
  w.buf[w.pos] = value >>> 8;
  w.buf[w.pos + 1] = value;
  w.pos += 2;
}

function writeInt32(w: Writer, value: number): void {
  w.ensure(4);
  const buf = w.buf;
  const p = w.pos;
  buf[p] = value >>> 24;
  buf[p + 1] = value >>> 16;
  buf[p + 2] = value >>> 8;
  buf[p + 3] = value;
  w.pos = p + 4;
}

function primitiveWriter(type: Exclude<PrimitiveType, 'string' | 'bytes' | 'records'>, where: string): WriteFn {
  switch (type) {
    case 'int8':
      return (w, v) => {
        if (typeof v !== 'number' || (v << 24) >> 24 !== v) throw invalid(where, v, 'an int8');
        w.ensure(1);
        w.buf[w.pos++] = v;
      };
    case 'bool':
      return (w, v) => {
        if (typeof v !== 'boolean') throw invalid(where, v, 'a boolean');
        w.ensure(1);
        w.buf[w.pos++] = v ? 1 : 0;
      };
    case 'int16':
      return (w, v) => {
        if (typeof v !== 'number' || (v << 16) >> 16 !== v) throw invalid(where, v, 'an int16');
        writeInt16(w, v);
      };
    case 'uint16':
      return (w, v) => {
        if (typeof v !== 'number' || (v & 0xffff) !== v) throw invalid(where, v, 'a uint16');
        writeInt16(w, v);
      };
    case 'int32':
      return (w, v) => {
        if (typeof v !== 'number' || (v | 0) !== v) throw invalid(where, v, 'an int32');
        writeInt32(w, v);
      };
    case 'int64':
      return (w, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(where, v, 'an integer');
        if (Number.isSafeInteger(v)) {
          const high = Math.floor(v / two32);
          writeInt32(w, high);
          writeInt32(w, v - high * two32);
        } else {
          // Beyond 2^53 only the int64 extremes matter (Long.MAX_VALUE as "no limit"): clamp.
          w.ensure(8);
          const big = v >= two63 ? 0x7fffffffffffffffn : v < -two63 ? -0x8000000000000000n : BigInt(v);
          w.buf.writeBigInt64BE(big, w.pos);
          w.pos += 8;
        }
      };
    case 'float64':
      return (w, v) => {
        if (typeof v !== 'number') throw invalid(where, v, 'a number');
        w.ensure(8);
        w.buf.writeDoubleBE(v, w.pos);
        w.pos += 8;
      };
    case 'uuid':
      return (w, v) => {
        if (typeof v !== 'string') throw invalid(where, v, 'a UUID string');
        w.ensure(16);
        if (v === ZERO_UUID) {
          w.buf.fill(0, w.pos, w.pos + 16);
        } else {
          const lower = v.toLowerCase();
          if (!uuidPattern.test(lower)) throw invalid(where, v, 'a UUID (8-4-4-4-12 hex digits)');
          w.buf.write(lower.replaceAll('-', ''), w.pos, 16, 'hex');
        }
        w.pos += 16;
      };
  }
}

/** Writes a length prefix in the version's encoding; −1 is null. */
function lengthWriter(kind: 'int16' | 'int32' | 'compact'): (w: Writer, length: number) => void {
  switch (kind) {
    case 'int16':
      return writeInt16;
    case 'int32':
      return writeInt32;
    case 'compact':
      return (w, length) => writeUvarint(w, length + 1);
  }
}

// ---- Compiling a schema ----

interface Compiled {
  read: ReadFn;
  write: WriteFn;
  /** The fewest bytes a value can take, to bound counts by the bytes left. */
  minSize: number;
}

interface Context {
  version: number;
  flexible: boolean;
}

const primitiveMinSize: Record<Exclude<PrimitiveType, 'string' | 'bytes' | 'records'>, number> = {
  int8: 1,
  bool: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  int64: 8,
  float64: 8,
  uuid: 16,
};

function isStructField(field: FieldSchema): field is Extract<FieldSchema, { fields: readonly FieldSchema[] }> {
  return field.type === 'struct' || field.type === '[]struct';
}

/** A fresh default for a field, for versions without it and values that leave it out. */
function defaultMaker(field: FieldSchema): () => unknown {
  if (field.default !== undefined) {
    const value = field.default;
    return () => value;
  }
  switch (field.type) {
    case 'struct':
      return () => ({});
    case 'bool':
      return () => false;
    case 'string':
      return () => '';
    case 'uuid':
      return () => ZERO_UUID;
    case 'bytes':
      return () => emptyBuffer;
    case 'records':
      return () => null;
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'int64':
    case 'float64':
      return () => 0;
    default:
      return () => [];
  }
}

/** The value a version without the field decodes to: its default, with structs filled in. */
function absentValue(field: FieldSchema): () => unknown {
  if (field.type === 'struct' && field.default === undefined) {
    const names = field.fields.map((inner) => inner.name);
    const makers = field.fields.map(absentValue);
    return () => {
      const value: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i += 1) value[names[i]!] = makers[i]!();
      return value;
    };
  }
  return defaultMaker(field);
}

function compileValue(field: FieldSchema, type: string, ctx: Context, nullable: boolean, where: string): Compiled {
  const compact = ctx.flexible;
  if (isStructField(field) && type === 'struct') return compileStruct(field.fields, ctx, where);
  if (type.startsWith('[]')) {
    const element: FieldSchema = isStructField(field)
      ? { name: field.name, type: 'struct', versions: field.versions, fields: field.fields }
      : { name: field.name, type: type.slice(2) as PrimitiveType, versions: field.versions };
    const item = compileValue(element, element.type, ctx, false, `${where}[]`);
    const readLength = lengthReader(compact ? 'compact' : 'int32', nullable, Math.max(1, item.minSize), where);
    const writeLength = lengthWriter(compact ? 'compact' : 'int32');
    const readItem = item.read;
    const writeItem = item.write;
    return {
      minSize: compact ? 1 : 4,
      read: (r) => {
        const count = readLength(r);
        if (count < 0) return null;
        const items: unknown[] = [];
        for (let i = 0; i < count; i += 1) items.push(readItem(r));
        return items;
      },
      write: (w, v) => {
        if (v === null) {
          if (!nullable) throw invalid(where, v, 'an array (null is not allowed in this version)');
          writeLength(w, -1);
          return;
        }
        if (!Array.isArray(v)) throw invalid(where, v, 'an array');
        writeLength(w, v.length);
        for (let i = 0; i < v.length; i += 1) writeItem(w, v[i]);
      },
    };
  }
  switch (type) {
    case 'string': {
      const readLength = lengthReader(compact ? 'compact' : 'int16', nullable, 1, where);
      const writeLength = lengthWriter(compact ? 'compact' : 'int16');
      return {
        minSize: compact ? 1 : 2,
        read: (r) => {
          const length = readLength(r);
          if (length < 0) return null;
          const value = r.buf.toString('utf8', r.pos, r.pos + length);
          r.pos += length;
          return value;
        },
        write: (w, v) => {
          if (v === null) {
            if (!nullable) throw invalid(where, v, 'a string (null is not allowed in this version)');
            writeLength(w, -1);
            return;
          }
          if (typeof v !== 'string') throw invalid(where, v, 'a string');
          const length = Buffer.byteLength(v, 'utf8');
          if (length > 0x7fff) throw invalid(where, v, 'a string of at most 32767 UTF-8 bytes');
          writeLength(w, length);
          w.ensure(length);
          w.pos += w.buf.write(v, w.pos, length, 'utf8');
        },
      };
    }
    case 'bytes':
    case 'records': {
      const records = type === 'records';
      const readLength = lengthReader(compact ? 'compact' : 'int32', nullable, 1, where);
      const writeLength = lengthWriter(compact ? 'compact' : 'int32');
      const expected = records ? 'a Buffer or an array of Buffers' : 'a Buffer';
      return {
        minSize: compact ? 1 : 4,
        read: (r) => {
          const length = readLength(r);
          if (length < 0) return null;
          const value = r.buf.subarray(r.pos, r.pos + length);
          r.pos += length;
          return value;
        },
        write: (w, v) => {
          if (v === null) {
            if (!nullable) throw invalid(where, v, `${expected} (null is not allowed in this version)`);
            writeLength(w, -1);
            return;
          }
          if (v instanceof Uint8Array) {
            if (v.length > 0x7fffffff) throw invalid(where, v, 'at most 2^31 − 1 bytes');
            writeLength(w, v.length);
            const data = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
            if (records) {
              w.splice(data);
            } else {
              w.ensure(data.length);
              w.buf.set(data, w.pos);
              w.pos += data.length;
            }
            return;
          }
          if (!records || !Array.isArray(v)) throw invalid(where, v, expected);
          let total = 0;
          for (const part of v) {
            if (!(part instanceof Uint8Array)) throw invalid(where, part, 'a Buffer in the records array');
            total += part.length;
          }
          if (total > 0x7fffffff) throw invalid(where, v, 'at most 2^31 − 1 bytes of records');
          writeLength(w, total);
          for (const part of v as Uint8Array[]) {
            w.splice(Buffer.isBuffer(part) ? part : Buffer.from(part.buffer, part.byteOffset, part.byteLength));
          }
        },
      };
    }
    default: {
      const primitive = type as Exclude<PrimitiveType, 'string' | 'bytes' | 'records'>;
      if (!(primitive in primitiveMinSize)) throw new Error(`schema bug: unknown type '${type}' at ${where}`);
      const read = primitiveReader(primitive, where);
      const write = primitiveWriter(primitive, where);
      if (!nullable) return { minSize: primitiveMinSize[primitive], read, write };
      throw new Error(`schema bug: ${type} cannot be nullable (${where})`);
    }
  }
}

interface TaggedField {
  tag: number;
  name: string;
  read: ReadFn;
  write: WriteFn;
  isDefault: (value: unknown) => boolean;
}

/**
 * Tagged fields at their default are left out, as Kafka does: arrays when empty, structs when
 * every field is at its default (a field left out counts as default).
 */
function defaultTest(field: FieldSchema): (value: unknown) => boolean {
  if (field.type === 'struct') {
    const inner = field.fields.map((f) => ({ name: f.name, isDefault: defaultTest(f) }));
    return (v) => {
      if (v === null || typeof v !== 'object') return false;
      const value = v as Record<string, unknown>;
      return inner.every(({ name, isDefault }) => value[name] === undefined || isDefault(value[name]));
    };
  }
  if (field.type.startsWith('[]')) {
    return field.default === null ? (v) => v === null : (v) => Array.isArray(v) && v.length === 0;
  }
  if (field.type === 'bytes') {
    return field.default === null ? (v) => v === null : (v) => v instanceof Uint8Array && v.length === 0;
  }
  const value = defaultMaker(field)();
  return (v) => v === value;
}

function compileStruct(fields: readonly FieldSchema[], ctx: Context, where: string): Compiled {
  const names: string[] = [];
  const readers: ReadFn[] = [];
  const inline: Array<{ name: string; write: WriteFn; makeDefault: () => unknown }> = [];
  const tagged: TaggedField[] = [];
  let minSize = ctx.flexible ? 1 : 0;
  const seen = new Set<string>();

  for (const field of fields) {
    if (seen.has(field.name)) throw new Error(`schema bug: field '${field.name}' twice at ${where}`);
    seen.add(field.name);
    const path = `${where}${where.endsWith(':') ? ' ' : '.'}${field.name}`;
    names.push(field.name);
    if (!inVersions(field.versions, ctx.version)) {
      readers.push(absentValue(field));
      continue;
    }
    const nullable = inVersions(field.nullableVersions, ctx.version);
    const value = compileValue(field, field.type, ctx, nullable, path);
    const isTagged = field.tag !== undefined && inVersions(field.taggedVersions ?? field.versions, ctx.version);
    if (isTagged) {
      if (!ctx.flexible) throw new Error(`schema bug: tagged field ${path} in a non-flexible version`);
      if (field.type === 'records') throw new Error(`schema bug: records cannot be tagged (${path})`);
      if (tagged.some((other) => other.tag === field.tag)) throw new Error(`schema bug: tag ${field.tag} twice at ${where}`);
      // Until the tagged block says otherwise, the field holds its default.
      readers.push(absentValue(field));
      tagged.push({ tag: field.tag!, name: field.name, read: value.read, write: value.write, isDefault: defaultTest(field) });
      continue;
    }
    readers.push(value.read);
    inline.push({ name: field.name, write: value.write, makeDefault: defaultMaker(field) });
    minSize += value.minSize;
  }
  tagged.sort((a, b) => a.tag - b.tag);

  const taggedByTag = new Map(tagged.map((field) => [field.tag, field]));
  const flexible = ctx.flexible;
  const tagsWhere = `${where} <tagged fields>`;
  const fieldCount = names.length;

  const read: ReadFn = (r) => {
    const value: Record<string, unknown> = {};
    for (let i = 0; i < fieldCount; i += 1) value[names[i]!] = readers[i]!(r);
    if (flexible) {
      const count = readUvarint(r, tagsWhere);
      for (let i = 0; i < count; i += 1) {
        const tag = readUvarint(r, tagsWhere);
        const size = readUvarint(r, tagsWhere);
        if (size > r.end - r.pos) {
          throw new KafkaProtocolError(`${tagsWhere}: tag ${tag} has ${size} bytes, only ${r.end - r.pos} left`);
        }
        const field = taggedByTag.get(tag);
        if (field === undefined) {
          // Tags this version does not know are skipped, as Kafka does.
          r.pos += size;
          continue;
        }
        const end = r.end;
        r.end = r.pos + size;
        value[field.name] = field.read(r);
        if (r.pos !== r.end) {
          throw new KafkaProtocolError(`${tagsWhere}: tag ${tag} declares ${size} bytes but its value took ${size - (r.end - r.pos)}`);
        }
        r.end = end;
      }
    }
    return value;
  };

  const inlineCount = inline.length;
  const write: WriteFn = (w, v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(where.replace(/:$/, ''), v, 'an object');
    const value = v as Record<string, unknown>;
    for (let i = 0; i < inlineCount; i += 1) {
      const field = inline[i]!;
      const fieldValue = value[field.name];
      field.write(w, fieldValue === undefined ? field.makeDefault() : fieldValue);
    }
    if (!flexible) return;
    if (tagged.length === 0) {
      w.ensure(1);
      w.buf[w.pos++] = 0;
      return;
    }
    let present = 0;
    for (const field of tagged) {
      const fieldValue = value[field.name];
      if (fieldValue !== undefined && !field.isDefault(fieldValue)) present += 1;
    }
    writeUvarint(w, present);
    if (present === 0) return;
    for (const field of tagged) {
      const fieldValue = value[field.name];
      if (fieldValue === undefined || field.isDefault(fieldValue)) continue;
      // A tagged value is preceded by its size, so it is written aside first (they are small).
      const aside = new Writer(64);
      field.write(aside, fieldValue);
      const bytes = aside.buf.subarray(0, aside.pos);
      writeUvarint(w, field.tag);
      writeUvarint(w, bytes.length);
      w.ensure(bytes.length);
      w.buf.set(bytes, w.pos);
      w.pos += bytes.length;
    }
  };

  return { read, write, minSize };
}

// ---- The cache and the entry points ----

interface MessageCodec {
  read: ReadFn;
  write: WriteFn;
  /** Bytes the last encodings needed, so the next starts with a buffer that fits. */
  sizeHint: number;
}

const cache = new WeakMap<MessageSchema, Array<MessageCodec | undefined>>();

function codecFor(schema: MessageSchema, version: number): MessageCodec {
  let versions = cache.get(schema);
  if (versions === undefined) {
    versions = [];
    cache.set(schema, versions);
  }
  let codec = versions[version];
  if (codec !== undefined) return codec;
  if (!Number.isInteger(version) || !inVersions(schema.validVersions, version)) {
    throw new KafkaProtocolError(`${schema.name} has no version ${version} (valid: ${schema.validVersions})`);
  }
  const ctx: Context = { version, flexible: inVersions(schema.flexibleVersions, version) };
  // Paths in error messages start with the message and version: "FetchRequest v12: topics[].partitions[].partition".
  const label = `${schema.name} v${version}`;
  const compiled = compileStruct(schema.fields, ctx, `${label}:`);
  codec = {
    read: (r) => {
      try {
        return compiled.read(r);
      } catch (error) {
        throw asProtocolError(error, label);
      }
    },
    write: (w, v) => {
      try {
        compiled.write(w, v);
      } catch (error) {
        throw asProtocolError(error, label);
      }
    },
    sizeHint: 256,
  };
  versions[version] = codec;
  return codec;
}

function asProtocolError(error: unknown, label: string): KafkaProtocolError {
  if (error instanceof KafkaProtocolError) return error;
  return new KafkaProtocolError(`${label}: ${error instanceof Error ? error.message : String(error)}`);
}

/** True when `version` of the message uses compact encodings and tagged fields. */
export function isFlexibleVersion(schema: MessageSchema, version: number): boolean {
  return inVersions(schema.flexibleVersions, version);
}

/** The versions a schema describes, lowest and highest. */
export function schemaVersions(schema: MessageSchema): { min: number; max: number } {
  const { min, max } = versionBounds(schema.validVersions);
  return { min, max };
}

/**
 * Decodes one message body of `version` starting at `offset` (bytes after it are ignored, as
 * Kafka does). Bytes and records come back as subarrays of `buffer`, not copies: keep `buffer`
 * alive as long as they are used. Throws KafkaProtocolError for anything malformed, and for a
 * version the schema lacks.
 */
export function decodeMessage<S extends MessageSchema>(schema: S, version: number, buffer: Buffer, offset = 0): KafkaMessage<S> {
  const codec = codecFor(schema, version);
  if (!Number.isInteger(offset) || offset < 0 || offset > buffer.length) {
    throw new KafkaProtocolError(`${schema.name} v${version}: offset ${offset} is outside the ${buffer.length}-byte buffer`);
  }
  return codec.read(new Reader(buffer, offset, buffer.length)) as KafkaMessage<S>;
}

/**
 * Encodes a message body as chunks to write in order (e.g. with `socket.cork()` / writev):
 * the message's own bytes, with every records value spliced in as it is, never copied. Fields
 * left out (undefined) are written as their default. Throws KafkaProtocolError when a value
 * does not fit its field (wrong type, out of range, null where the version allows none).
 */
export function encodeMessage<S extends MessageSchema>(schema: S, version: number, value: KafkaMessageInput<S>): Buffer[] {
  const codec = codecFor(schema, version);
  const writer = new Writer(codec.sizeHint);
  codec.write(writer, value);
  const chunks = writer.finish();
  if (writer.pos > codec.sizeHint) codec.sizeHint = Math.min(writer.pos, 65536);
  return chunks;
}

/** Total bytes of encoded chunks (for a frame's length prefix). */
export function chunksLength(chunks: readonly Buffer[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  return total;
}

export { KafkaProtocolError };
