/** The share coordinator of a broker, over its offsets partitions, local data reads and local DLQ appends. */
import type { Logger } from 'pino';
import type { BrokerContext } from '../api/context.js';
import { LocalDeadLetterSink } from './dead-letter-sink.js';
import { LocalPartitionSource } from './partition-source.js';
import { ShareCoordinator } from './share-coordinator.js';

export function startShareCoordinator(context: BrokerContext, logger: Logger): ShareCoordinator {
  return new ShareCoordinator({
    offsets: context.offsets,
    source: new LocalPartitionSource(context.topics),
    sink: new LocalDeadLetterSink(() => context.cluster, context.topics),
    stopping: context.stopping,
    logger,
    onRecords: (topic, partition, listener) => context.topics.find(topic)?.partitionAt(partition)?.onHighWatermark(() => listener()),
  });
}
