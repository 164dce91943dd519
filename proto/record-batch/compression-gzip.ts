/**
 * gzip (codec 1): one RFC 1952 stream, as Java's GZIPOutputStream writes it. Node's zlib
 * does the work; gunzipSync stops at maxOutputLength, so a bomb costs at most the limit.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { CODEC_GZIP } from './layout.js';
import { type Codec, corruptStream, pastLimit } from './compression-codec.js';

export const gzipCodec: Codec = {
  name: 'gzip',
  id: CODEC_GZIP,
  // zlib's default level 6, what Java's Deflater uses and Kafka's compression.gzip.level defaults to.
  compress: (records) => gzipSync(records),
  decompress(compressed, maxBytes) {
    let records: Buffer;
    try {
      // maxOutputLength must be ≥ 1; a limit of 0 is checked below.
      records = gunzipSync(compressed, { maxOutputLength: Math.max(1, maxBytes) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') pastLimit('gzip', maxBytes);
      return corruptStream('gzip', (error as Error).message);
    }
    if (records.length > maxBytes) pastLimit('gzip', maxBytes);
    return records;
  },
};
