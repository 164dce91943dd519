/**
 * The codecs of RecordBatch v2 (attributes bits 0–2), one per Kafka compression type, behind
 * one interface (compression-codec.ts) that building, validating, decoding and compacting
 * batches all use:
 *
 *   0 none    the records as they are
 *   1 gzip    Node's zlib                      (compression-gzip.ts)
 *   2 snappy  xerial framing over `snappy`     (compression-snappy.ts)
 *   3 lz4     LZ4 frame over `lz4`             (lz4-frame.ts)
 *   4 zstd    zstd frames over `zstd-napi`     (compression-zstd.ts)
 *   5–7       invalid: UNSUPPORTED_COMPRESSION
 */
import { SluiceError } from '../errors.js';
import { CODEC_LZ4, CODEC_NONE } from './layout.js';
import { type Codec, type Compression, compressionTypes } from './compression-codec.js';
import { gzipCodec } from './compression-gzip.js';
import { snappyCodec } from './compression-snappy.js';
import { zstdCodec } from './compression-zstd.js';
import { lz4FrameDecode, lz4FrameEncode } from './lz4-frame.js';

export { type Codec, type Compression, compressionTypes, isCompression } from './compression-codec.js';

const noneCodec: Codec = {
  name: 'none',
  id: CODEC_NONE,
  compress: (records) => records,
  decompress: (records) => records,
};

const lz4Codec: Codec = {
  name: 'lz4',
  id: CODEC_LZ4,
  compress: lz4FrameEncode,
  decompress: lz4FrameDecode,
};

/** Indexed by codec id. */
const codecs: readonly Codec[] = [noneCodec, gzipCodec, snappyCodec, lz4Codec, zstdCodec];

if (codecs.some((codec, id) => codec.id !== id || codec.name !== compressionTypes[id])) throw new Error('the codecs are not in codec-id order');

/** The codec numbered `id` (attributes & 0x07); UNSUPPORTED_COMPRESSION for 5–7. */
export function codecById(id: number): Codec {
  const codec = codecs[id];
  if (codec === undefined) {
    throw new SluiceError('SLUICE_ERR_UNSUPPORTED_COMPRESSION', `compression codec ${id} (attributes bits 0–2) is not one of ${compressionTypes.join(', ')}`);
  }
  return codec;
}

export function codecByName(name: Compression): Codec {
  const codec = codecs.find((candidate) => candidate.name === name);
  if (codec === undefined) throw new SluiceError('SLUICE_ERR_UNSUPPORTED_COMPRESSION', `compression "${name}" is not one of ${compressionTypes.join(', ')}`);
  return codec;
}
