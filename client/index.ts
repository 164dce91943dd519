export { Sluice, type SluiceOptions } from './sluice.js';
export { DeliveryError, Producer, type ProducerOptions, type ProducerRecord, type RecordMetadata } from './producer.js';
export { Transaction, type TransactionOffsets } from './transaction.js';
export { Consumer, type ConsumerOptions, type ConsumerRecord, type SeekTarget } from './consumer.js';
export { ShareConsumer, type ShareConsumerOptions, ShareRecord } from './share-consumer.js';
export {
  Admin, type ClusterDescription, type GroupListing, type TransactionDetails, type TransactionListing, type CreateTopicOptions, type ElectionResult, type ElectLeadersOptions, type PartitionDescription, type TopicDescription,
} from './admin.js';
export type { ClientLogger } from './logger.js';
export { SluiceError, CorruptRecordError, OffsetOutOfRangeError, errorCodes, type ErrorCode } from '../proto/errors.js';
export { keyPartition, murmur2 } from './partitioner.js';
export * from '../proto/record-batch/index.js';
