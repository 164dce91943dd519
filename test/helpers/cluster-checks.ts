/**
 * What cluster tests check over and over: a topic's partitions as the cluster describes them,
 * waits for every replica to be back in sync, and replica logs compared byte for byte.
 */
import path from 'node:path';
import { Log } from '../../broker/storage/log.js';
import type { Admin } from '../../client/admin.js';
import { waitFor } from './broker-process.js';
import type { TestCluster } from './cluster.js';
import { logBatches } from './log-contents.js';
import { batchLastOffset } from '../../proto/record-batch/record-batch.js';

/** Waits until every partition of the topic has a leader and all its replicas in the ISR. */
export async function waitForFullIsr(admin: Admin, topic: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`every replica of ${topic} in sync`, async () => {
    try {
      const description = await admin.describeTopic(topic);
      return description.partitions.every((partition) => partition.leader >= 0 && partition.isr.length === partition.replicas.length);
    } catch {
      return false;
    }
  }, timeoutMs);
}

/** The current leader of each partition. */
export async function leaders(admin: Admin, topic: string): Promise<Map<number, number>> {
  const description = await admin.describeTopic(topic);
  return new Map(description.partitions.map((partition) => [partition.partition, partition.leader]));
}

/**
 * Opens each stopped broker's copy of a partition and returns its batches below `end` (the
 * high watermark), as bytes: replicas of one partition must hold exactly the same ones.
 */
export function replicaBatches(cluster: TestCluster, topic: string, partition: number, end: number): Map<number, Buffer[]> {
  const copies = new Map<number, Buffer[]>();
  for (const broker of cluster.brokers) {
    const log = Log.open(path.join(broker.dataDirectory, `${topic}-${partition}`));
    try {
      copies.set(broker.nodeId, logBatches(log).filter((batch) => batchLastOffset(batch, 0) < end).map((batch) => Buffer.from(batch)));
    } finally {
      log.close();
    }
  }
  return copies;
}

/**
 * Waits until every running broker sees all of them alive and knows the controller: a broker
 * is "ready" once registered, but the controller may not have watched the last registration
 * yet, and a topic created then would be refused for too few live brokers.
 */
export async function waitForBrokersAlive(cluster: TestCluster, timeoutMs = 15_000): Promise<void> {
  const running = cluster.brokers.filter((broker) => broker.process !== undefined);
  await waitFor(`${running.length} brokers seeing each other`, async () => {
    const views = await Promise.all(running.map(async (broker) => {
      const response = await fetch(`http://127.0.0.1:${broker.process!.httpPort}/v1/cluster`).catch(() => undefined);
      return response?.ok ? await response.json() as { controllerId: number; brokers: Array<{ nodeId: number; alive: boolean }> } : undefined;
    }));
    return views.every((view) => view !== undefined && view.controllerId >= 0
      && running.every((broker) => view.brokers.some((seen) => seen.nodeId === broker.nodeId && seen.alive)));
  }, timeoutMs);
}
