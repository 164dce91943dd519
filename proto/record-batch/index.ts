export {
  type BatchHeader, type BatchOptions, type Compression, type DecodedRecord, type RecordHeader, type RecordInput,
  batchLastOffset, batchMaxTimestamp, buildRecordBatch, checkBatch, decodeRecords, type DecodeOptions, readBatchHeader,
  setBaseOffset, setPartitionLeaderEpoch, validateProducerBatch,
} from './record-batch.js';
export { type Codec, codecById, codecByName, compressionTypes, isCompression } from './compression.js';
export { lz4FrameDecode, lz4FrameEncode } from './lz4-frame.js';
