/** The share coordinator of a broker: its data reads and DLQ appends go local or to the partition's leader. */
import type { Logger } from 'pino';
import type { BrokerContext } from '../api/context.js';
import { BrokerDeadLetterSink } from './dead-letter-sink.js';
import { LeaderLinks } from '../replication/leader-links.js';
import { BrokerPartitionSource } from '../replication/partition-source.js';
import { ShareCoordinator } from './share-coordinator.js';

export function startShareCoordinator(context: BrokerContext, logger: Logger): ShareCoordinator {
  const links = new LeaderLinks(() => context);
  const source = new BrokerPartitionSource(() => context, links);
  return new ShareCoordinator({
    offsets: context.offsets, source, sink: new BrokerDeadLetterSink(() => context, links, source), stopping: context.stopping, logger,
    onClose: () => links.close(),
  });
}
