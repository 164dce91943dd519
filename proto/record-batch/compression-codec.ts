/**
 * What every compression codec of RecordBatch v2 offers (compression.ts lists them), and the
 * errors they share. The records section of a compressed batch — everything after
 * recordsCount — is one compressed stream of the concatenated records; the 61-byte header
 * stays plain.
 */
import { createRequire } from 'node:module';
import { CorruptRecordError, SluiceError } from '../errors.js';

/** Kafka's codecs, by their names in `compression.type`. */
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/**
 * Every compression type, in codec-id order. Here rather than beside the codecs so that option
 * lists (the CLI's help) do not load the native compression libraries.
 */
export const compressionTypes: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function isCompression(value: string): value is Compression {
  return (compressionTypes as readonly string[]).includes(value);
}

export interface Codec {
  readonly name: Compression;
  /** The codec's number in bits 0–2 of a batch's attributes. */
  readonly id: number;
  /** The records section, compressed the way Kafka's Java client writes it. */
  compress(records: Buffer): Buffer;
  /**
   * The records `compressed` holds. Never allocates or produces more than `maxBytes`:
   * past it CorruptRecordError with SLUICE_ERR_INVALID_RECORD; bytes that do not decode give
   * CorruptRecordError (SLUICE_ERR_CORRUPT_MESSAGE). Nothing else is thrown. May return a
   * view of `scratch` when the output fits there (for a caller that reads the records and
   * drops them, like produce validation).
   */
  decompress(compressed: Buffer, maxBytes: number, scratch?: Buffer): Buffer;
}

export function corruptStream(codec: string, why: string): never {
  throw new CorruptRecordError(`${codec}-compressed records: ${why}`);
}

export function pastLimit(codec: string, maxBytes: number): never {
  throw new CorruptRecordError(`${codec}-compressed records decompress past the limit of ${maxBytes} bytes; send smaller batches`, 'SLUICE_ERR_INVALID_RECORD');
}

/** `bytes` of output: a view of `scratch` when they fit, else fresh memory. */
export function outputBuffer(bytes: number, scratch: Buffer | undefined): Buffer {
  return scratch !== undefined && bytes <= scratch.length ? scratch.subarray(0, bytes) : Buffer.allocUnsafe(bytes);
}

const require = createRequire(import.meta.url);

/**
 * A native package loaded on first use, so a machine where one codec's binary is missing
 * still runs every other codec; using the missing one is an UNSUPPORTED_COMPRESSION error.
 */
export function lazyNative<T>(packageName: string, codec: Compression): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded !== undefined) return loaded;
    try {
      loaded = require(packageName) as T;
    } catch (error) {
      throw new SluiceError('SLUICE_ERR_UNSUPPORTED_COMPRESSION',
        `${codec} needs the native package ${packageName}, which did not load (${(error as Error).message}); run npm install again`, { cause: error });
    }
    return loaded;
  };
}
