/**
 * Byte positions of Kafka's RecordBatch v2 header (magic 2), all big-endian.
 *
 *   off size field
 *    0   8   baseOffset            leader overwrites; not under the CRC
 *    8   4   batchLength           bytes after this field; batch = 12 + batchLength
 *   12   4   partitionLeaderEpoch  leader stamps; not under the CRC
 *   16   1   magic                 2
 *   17   4   crc                   CRC-32C of bytes [21, end of batch)
 *   21   2   attributes            bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
 *   23   4   lastOffsetDelta
 *   27   8   baseTimestamp
 *   35   8   maxTimestamp
 *   43   8   producerId
 *   51   2   producerEpoch
 *   53   4   baseSequence
 *   57   4   recordsCount
 *   61   …   records (plain, or one compressed stream)
 */
export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Smallest legal batch: a header and no records. */
export const BATCH_HEADER_SIZE = 61;
/** The part of a batch before batchLength's count starts: baseOffset + batchLength. */
export const BATCH_LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;

export const ATTRIBUTE_CODEC_MASK = 0x07;
export const ATTRIBUTE_TIMESTAMP_TYPE_MASK = 0x08;
export const ATTRIBUTE_TRANSACTIONAL_MASK = 0x10;
export const ATTRIBUTE_CONTROL_MASK = 0x20;
export const ATTRIBUTE_DELETE_HORIZON_MASK = 0x40;

export const CODEC_NONE = 0;
export const CODEC_GZIP = 1;
export const CODEC_SNAPPY = 2;
export const CODEC_LZ4 = 3;
export const CODEC_ZSTD = 4;
