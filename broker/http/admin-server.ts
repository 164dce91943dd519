/**
 * Admin HTTP (fastify): health, Prometheus metrics, topics and groups as JSON for people and
 * scripts, and the process's memory for leak hunting.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import fs from 'node:fs';
import path from 'node:path';
import { describeConsumerMember } from '../../proto/consumer-protocol.js';
import { SluiceError } from '../../proto/errors.js';
import type { Topic, TopicManager } from '../topics/topic-manager.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import { listGroups } from '../groups/group-listing.js';
import type { OffsetStore } from '../groups/offset-store.js';
import type { TransactionCoordinator } from '../transactions/coordinator.js';
import { registerDebugMemory } from './debug-memory.js';
import { registerShareGroups } from './share-groups.js';
import type { ShareCoordinator } from '../share/share-coordinator.js';
import type { BrokerMetrics } from './metrics.js';
import type { ClusterView } from '../api/context.js';
import type { ReplicationCounts } from '../replication/replica-manager.js';

function directorySize(directory: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(directory, entry.name)).size;
  }
  return total;
}

function describeTopic(topic: Topic) {
  return {
    name: topic.record.name,
    partitions: topic.partitions.map((partition) => ({
      partition: partition.index,
      role: partition.role,
      leader: partition.leaderId,
      leaderEpoch: partition.leaderEpoch,
      replicas: partition.replicas,
      isr: partition.isr,
      highWatermark: partition.highWatermark,
      // Below the high watermark while a transaction is open: where read_committed consumers stop.
      lastStableOffset: partition.lastStableOffset,
      logStartOffset: partition.log.logStartOffset,
      logEndOffset: partition.log.logEndOffset,
      recordBytes: partition.log.size,
      sizeOnDiskBytes: directorySize(partition.log.directory),
      segments: partition.log.segmentCount,
    })),
    configs: topic.record.configs,
    effectiveConfig: topic.config,
    createdAt: new Date(topic.record.createdAtMs).toISOString(),
  };
}

export interface ClusterSources {
  cluster: () => ClusterView;
  replication: () => ReplicationCounts | undefined;
  /** The transaction coordinator, once the logs are open. */
  transactions?: () => TransactionCoordinator | undefined;
  /** The share coordinator, once the logs are open. */
  share?: () => ShareCoordinator | undefined;
}

export function createAdminServer(
  topics: TopicManager, metrics: BrokerMetrics, offsets: () => OffsetStore | undefined, groups: () => GroupCoordinator | undefined,
  debug: () => Record<string, unknown> = () => ({}), sources?: ClusterSources,
): FastifyInstance {
  const app = Fastify({ logger: false });
  registerDebugMemory(app, debug);
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  // The brokers as the cluster knows them, and this broker's share of the replication work.
  app.get('/v1/cluster', async () => ({ ...sources?.cluster().describeCluster(), replication: sources?.replication() ?? null }));
  app.get('/v1/topics', async () => ({ topics: topics.topics().map(describeTopic) }));
  app.get<{ Params: { name: string } }>('/v1/topics/:name', async (request, reply) => {
    try {
      return describeTopic(topics.get(request.params.name));
    } catch (error) {
      if (!SluiceError.is(error)) throw error;
      return reply.code(404).send({ error: error.code, message: error.message });
    }
  });
  // The transactional ids this broker coordinates, each as DescribeTransactions tells it.
  app.get('/v1/transactions', async () => {
    const coordinator = sources?.transactions?.();
    return { transactions: coordinator === undefined ? [] : coordinator.list().map((entry) => coordinator.describe(entry.transactionalId)) };
  });
  registerShareGroups(app, () => sources?.share?.());
  app.get('/v1/groups', async () => ({ groups: listGroups(groups(), offsets()) }));
  app.get<{ Params: { id: string } }>('/v1/groups/:id', async (request, reply) => {
    const store = offsets();
    const live = groups()?.describe(request.params.id);
    const committed = store?.groups().includes(request.params.id) ?? false;
    if (live === undefined && !committed) {
      return reply.code(404).send({ error: 'SLUICE_ERR_UNKNOWN_GROUP', message: `no group ${request.params.id} is known to this broker` });
    }
    const partitions = store?.lag(request.params.id) ?? [];
    return {
      groupId: request.params.id,
      state: live?.state ?? 'Empty',
      generationId: live?.generationId ?? 0,
      protocol: live?.protocolName ?? '',
      members: (live?.members ?? []).map((member) => {
        // Subscribed topics and assigned partitions, null when the bytes are not ConsumerProtocol.
        const { topics, partitions } = describeConsumerMember(live!.protocolType, member.metadata, member.assignment);
        return { memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId, topics, assignment: partitions };
      }),
      partitions,
      totalLag: partitions.reduce((total, entry) => total + Math.max(0, entry.lag), 0),
    };
  });
  return app;
}
