/**
 * Builds message values from a schema for the codec tests: what to encode, and what decoding
 * the encoded bytes must give back.
 *
 * - `full`: every field of every version gets a value different from its default (strings with
 *   non-ASCII, int64 past 32 bits, two elements per array, records as several buffers). Fields
 *   the version lacks are filled in too, so the test also shows the encoder skips them and the
 *   decoder gives their default.
 * - `nulls`: null wherever the version allows it, empty arrays elsewhere.
 * - `defaults`: an empty object, so every field is written as its default.
 */
import { ZERO_UUID } from '../../../../proto/kafka/codec.js';
import { type FieldSchema, type MessageSchema, inVersions } from '../../../../proto/kafka/schema.js';

export type SampleMode = 'full' | 'nulls' | 'defaults';

export interface Sample {
  input: Record<string, unknown>;
  expected: Record<string, unknown>;
}

/** What a field decodes to when its version lacks it (mirrors the codec's rule). */
export function defaultOf(field: FieldSchema): unknown {
  if (field.default !== undefined) return field.default;
  switch (field.type) {
    case 'struct':
      return Object.fromEntries(field.fields.map((inner) => [inner.name, defaultOf(inner)]));
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'int64':
    case 'float64':
      return 0;
    default:
      return [];
  }
}

class Generator {
  private counter = 0;

  constructor(
    private readonly version: number,
    private readonly mode: SampleMode,
  ) {}

  struct(fields: readonly FieldSchema[]): Sample {
    const input: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const field of fields) {
      const present = inVersions(field.versions, this.version);
      const nullable = present && inVersions(field.nullableVersions, this.version);
      if (this.mode === 'defaults') {
        expected[field.name] = defaultOf(field);
        continue;
      }
      if (this.mode === 'nulls' && nullable) {
        input[field.name] = null;
        expected[field.name] = null;
        continue;
      }
      const value = this.value(field, field.type);
      input[field.name] = value.input;
      expected[field.name] = present ? value.expected : defaultOf(field);
    }
    return { input, expected };
  }

  private value(field: FieldSchema, type: string): { input: unknown; expected: unknown } {
    const n = (this.counter += 1);
    if (type.startsWith('[]')) {
      if (this.mode === 'nulls') return { input: [], expected: [] };
      const items = [0, 1].map(() =>
        type === '[]struct' && 'fields' in field ? this.struct(field.fields) : this.value(field, type.slice(2)),
      );
      return { input: items.map((item) => item.input), expected: items.map((item) => item.expected) };
    }
    const sign = n % 2 === 0 ? 1 : -1;
    let value: unknown;
    switch (type) {
      case 'struct':
        if (!('fields' in field)) throw new Error('struct without fields');
        return this.struct(field.fields);
      case 'int8':
        value = sign * (1 + (n % 100));
        break;
      case 'int16':
        value = sign * (1000 + n);
        break;
      case 'uint16':
        value = 40000 + n;
        break;
      case 'int32':
        value = sign * (100000 + n * 7);
        break;
      case 'int64':
        value = sign * (2 ** 40 + n);
        break;
      case 'float64':
        value = sign * (1.5 + n);
        break;
      case 'bool':
        value = field.default !== true;
        break;
      case 'string':
        value = `s${n}-é€`;
        break;
      case 'uuid': {
        const hex = n.toString(16).padStart(12, '0');
        value = `${hex.slice(4)}-abcd-4ef0-8123-${hex}`;
        break;
      }
      case 'bytes':
        value = Buffer.from([n & 0xff, 0, 0xff, 7]);
        break;
      case 'records': {
        const first = Buffer.from(`batch-${n}`);
        const second = Buffer.from([0, 1, 2, 3]);
        return n % 2 === 0 ? { input: first, expected: first } : { input: [first, second], expected: Buffer.concat([first, second]) };
      }
      default:
        throw new Error(`no sample for type ${type}`);
    }
    return { input: value, expected: value };
  }
}

export function sampleMessage(schema: MessageSchema, version: number, mode: SampleMode): Sample {
  return new Generator(version, mode).struct(schema.fields);
}

/** Every version a schema describes. */
export function schemaVersionList(schema: MessageSchema): number[] {
  const match = /^(\d+)-(\d+)$/.exec(schema.validVersions);
  if (match === null) throw new Error(`schema ${schema.name} needs a closed validVersions range`);
  const versions: number[] = [];
  for (let version = Number(match[1]); version <= Number(match[2]); version += 1) versions.push(version);
  return versions;
}
