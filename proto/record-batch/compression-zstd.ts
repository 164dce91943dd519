/**
 * zstd (codec 4): standard zstd frames (one or more, concatenated), through zstd-napi's
 * binding of libzstd.
 *
 * Decompression is bounded two ways. When every frame declares its content size (librdkafka
 * and our own writer do), the sizes are added up first and one call decodes into exactly that
 * much memory. When a frame does not (Java's streaming writer), the stream decoder fills an
 * output that grows by doubling and stops one byte past the limit. Its window is at most zstd's
 * default 2^27 bytes, what Java's and librdkafka's readers allow too, so any frame a Kafka
 * client can read we can read.
 */
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { SluiceError } from '../errors.js';
import { CODEC_ZSTD } from './layout.js';
import { type Codec, corruptStream, lazyNative, outputBuffer, pastLimit } from './compression-codec.js';

const zstd = lazyNative<typeof ZstdBinding>('zstd-napi/binding', 'zstd');

/** Kafka's default compression.zstd.level. */
const level = 3;
const firstStreamOutput = 64 * 1024;

let compressContext: ZstdBinding.CCtx | undefined;
let decompressContext: ZstdBinding.DCtx | undefined;

/** The content sizes of every frame added up, or undefined when some frame does not declare one. */
function declaredSize(binding: typeof ZstdBinding, input: Buffer, maxBytes: number): number | undefined {
  let total = 0;
  for (let position = 0; position < input.length;) {
    const frame = input.subarray(position);
    const size = binding.getFrameContentSize(frame);
    if (size === null) return undefined;
    total += size;
    if (total > maxBytes) pastLimit('zstd', maxBytes);
    position += binding.findFrameCompressedSize(frame);
  }
  return total;
}

function streamDecompress(context: ZstdBinding.DCtx, input: Buffer, maxBytes: number, scratch: Buffer | undefined): Buffer {
  let output = outputBuffer(Math.min(maxBytes + 1, Math.max(firstStreamOutput, input.length * 4)), scratch);
  let written = 0;
  let read = 0;
  for (;;) {
    const [pending, produced, consumed] = context.decompressStream(output.subarray(written), input.subarray(read));
    written += produced;
    read += consumed;
    if (written > maxBytes) pastLimit('zstd', maxBytes);
    // 0 pending: the last frame is complete and flushed.
    if (pending === 0 && read === input.length) return output.subarray(0, written);
    if (written === output.length) {
      const larger = Buffer.allocUnsafe(Math.min(maxBytes + 1, output.length * 2));
      output.copy(larger, 0, 0, written);
      output = larger;
    } else if (produced === 0 && consumed === 0) {
      corruptStream('zstd', 'the last frame is cut short');
    }
  }
}

export const zstdCodec: Codec = {
  name: 'zstd',
  id: CODEC_ZSTD,
  compress(records) {
    const binding = zstd();
    compressContext ??= new binding.CCtx();
    const output = Buffer.allocUnsafe(binding.compressBound(records.length));
    return output.subarray(0, compressContext.compress(output, records, level));
  },
  decompress(compressed, maxBytes, scratch) {
    const binding = zstd();
    if (compressed.length === 0) corruptStream('zstd', 'no frame');
    const context = (decompressContext ??= new binding.DCtx());
    try {
      context.reset(binding.ResetDirective.sessionOnly);
      const size = declaredSize(binding, compressed, maxBytes);
      if (size === undefined) return streamDecompress(context, compressed, maxBytes, scratch);
      const output = outputBuffer(size, scratch);
      return output.subarray(0, context.decompress(output, compressed));
    } catch (error) {
      if (SluiceError.is(error)) throw error;
      return corruptStream('zstd', (error as Error).message);
    }
  },
};
