/**
 * Sluice's schema format for Kafka protocol messages: one object per message describes every
 * version of it, and both the codec (codec.ts) and the TypeScript types below are derived from
 * it, so a field is written down once.
 *
 * The facts (field order, types, the versions each field exists in, nullability, tags) follow
 * Kafka's message definitions; the format is our own:
 * - Field names are Kafka's with the first letter lower-cased (`TopicData` → `topicData`).
 * - Version ranges are strings: `'0+'` (0 and later), `'3-7'` (inclusive), `'5'` (only 5),
 *   `'none'`.
 * - `type` is a primitive, `'[]<primitive>'` for an array of primitives, `'struct'` for a nested
 *   object and `'[]struct'` for an array of objects (both with `fields`).
 * - A field with `tag` is a tagged field in `taggedVersions` (which must be flexible versions):
 *   it lives in the tagged-field block at the end of its struct instead of in line.
 * - `default` is the value a version without the field decodes to, and what the encoder writes
 *   when a value leaves the field out. Without it: 0, false, '', the zero UUID, an empty buffer,
 *   [] for arrays, null for records, and a struct of defaults for structs.
 */

/** A Kafka version range: `'0+'`, `'3-7'`, `'5'` or `'none'`. */
export type VersionRange = string;

export type IntegerType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint16';
export type PrimitiveType = IntegerType | 'float64' | 'bool' | 'string' | 'bytes' | 'records' | 'uuid';
/** Arrays of primitives; records never come in arrays. */
export type PrimitiveArrayType = `[]${Exclude<PrimitiveType, 'records'>}`;

interface FieldBase {
  readonly name: string;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  readonly default?: number | string | boolean | null;
}

export interface PrimitiveFieldSchema extends FieldBase {
  readonly type: PrimitiveType | PrimitiveArrayType;
}

export interface StructFieldSchema extends FieldBase {
  readonly type: 'struct' | '[]struct';
  readonly fields: readonly FieldSchema[];
}

export type FieldSchema = PrimitiveFieldSchema | StructFieldSchema;

export interface MessageSchema {
  /** Kafka's message name, used in error messages. */
  readonly name: string;
  readonly apiKey: number;
  readonly type: 'request' | 'response';
  readonly validVersions: VersionRange;
  /** Versions with compact encodings and tagged-field blocks. */
  readonly flexibleVersions: VersionRange;
  readonly fields: readonly FieldSchema[];
}

// ---- Version ranges ----

export interface VersionBounds {
  readonly min: number;
  /** Inclusive; Infinity for `'N+'`; below `min` for `'none'`. */
  readonly max: number;
}

const boundsCache = new Map<string, VersionBounds>();

/** Parses a version range; throws on a malformed one (a schema bug, caught by the tests). */
export function versionBounds(range: VersionRange): VersionBounds {
  let bounds = boundsCache.get(range);
  if (bounds !== undefined) return bounds;
  let match: RegExpExecArray | null;
  if (range === 'none') bounds = { min: 0, max: -1 };
  else if ((match = /^(\d+)\+$/.exec(range)) !== null) bounds = { min: Number(match[1]), max: Infinity };
  else if ((match = /^(\d+)-(\d+)$/.exec(range)) !== null) bounds = { min: Number(match[1]), max: Number(match[2]) };
  else if ((match = /^(\d+)$/.exec(range)) !== null) bounds = { min: Number(match[1]), max: Number(match[1]) };
  else throw new Error(`malformed version range '${range}'`);
  boundsCache.set(range, bounds);
  return bounds;
}

export function inVersions(range: VersionRange | undefined, version: number): boolean {
  if (range === undefined) return false;
  const { min, max } = versionBounds(range);
  return version >= min && version <= max;
}

// ---- Types derived from a schema ----

/**
 * `'decoded'`: what decodeMessage returns — every field present (defaults filled in), records as
 * one Buffer. `'input'`: what encodeMessage takes — fields with a default or absent from some
 * versions may be left out, records may be several Buffers (written without copying), arrays
 * may be readonly.
 */
type Mode = 'decoded' | 'input';

type PrimitiveValue<T, M extends Mode> = T extends IntegerType | 'float64'
  ? number
  : T extends 'bool'
    ? boolean
    : T extends 'string' | 'uuid'
      ? string
      : T extends 'bytes'
        ? Buffer
        : T extends 'records'
          ? M extends 'input'
            ? Buffer | readonly Buffer[]
            : Buffer
          : never;

type List<T, M extends Mode> = M extends 'input' ? readonly T[] : T[];

type NonNullValue<F, M extends Mode> = F extends { readonly type: '[]struct'; readonly fields: infer Fs extends readonly FieldSchema[] }
  ? List<StructValue<Fs, M>, M>
  : F extends { readonly type: 'struct'; readonly fields: infer Fs extends readonly FieldSchema[] }
    ? StructValue<Fs, M>
    : F extends { readonly type: `[]${infer P}` }
      ? List<PrimitiveValue<P, M>, M>
      : F extends { readonly type: infer P }
        ? PrimitiveValue<P, M>
        : never;

export type FieldValue<F, M extends Mode> = NonNullValue<F, M> | (F extends { readonly nullableVersions: string } ? null : never);

type IsOptional<F, M extends Mode> = F extends { readonly tag: number }
  ? true
  : M extends 'decoded'
    ? false
    : F extends { readonly default: unknown }
      ? true
      : F extends { readonly versions: '0+' }
        ? false
        : true;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type StructValue<Fs extends readonly FieldSchema[], M extends Mode> = Simplify<
  { -readonly [F in Fs[number] as IsOptional<F, M> extends true ? never : F['name']]: FieldValue<F, M> } & {
    -readonly [F in Fs[number] as IsOptional<F, M> extends true ? F['name'] : never]?: FieldValue<F, M>;
  }
>;

/**
 * A decoded message: every field of every version, absent ones at their default. For a schema
 * not known at compile time (a registry lookup by API key) it is a plain record.
 */
export type KafkaMessage<S extends MessageSchema> = string extends S['name'] ? Record<string, unknown> : StructValue<S['fields'], 'decoded'>;

/** A message to encode: what KafkaMessage has, with defaultable fields optional. */
export type KafkaMessageInput<S extends MessageSchema> = string extends S['name'] ? Record<string, unknown> : StructValue<S['fields'], 'input'>;
