/**
 * In-process "brokers" for the cluster metadata tests: each is a ClusterMetadata talking to a
 * real etcd through its own EtcdLink, so a test can cut one broker off etcd (its leases then
 * expire in etcd, exactly as when its process dies or hangs) and let it back.
 */
import { pino } from 'pino';
import { ClusterMetadata, type ControllerSettings } from '../../broker/cluster/cluster-metadata.js';
import type { PartitionState } from '../../broker/cluster/partition-state.js';
import { waitFor } from '../helpers/broker-process.js';
import { type EtcdCluster, type EtcdLink, startEtcdLink } from '../helpers/etcd.js';

export const sessionTimeoutMs = 2_000;

export interface TestBroker {
  nodeId: number;
  metadata: ClusterMetadata;
  /** One link per etcd member. */
  links: EtcdLink[];
  cut(): Promise<void>;
  restore(): Promise<void>;
}

const logger = pino({ level: process.env['SLUICE_TEST_LOG'] ?? 'silent' });
const open = new Set<ClusterMetadata>();
let clusters = 0;

export function newClusterName(): string {
  clusters += 1;
  return `c${process.pid}-${clusters}`;
}

export async function startTestBroker(etcd: EtcdCluster, clusterName: string, nodeId: number, controller: Partial<ControllerSettings> = {}): Promise<TestBroker> {
  const links = await Promise.all(etcd.endpoints.map((endpoint) => startEtcdLink(endpoint)));
  const metadata = await ClusterMetadata.connect({
    endpoints: links.map((link) => link.endpoint), clusterName, self: { nodeId, host: '127.0.0.1', port: 9000 + nodeId, rack: `r${nodeId}` },
    sessionTimeoutMs, logger, callTimeoutMs: 500, controller: { retryBackoffMs: 100, ...controller },
  });
  open.add(metadata);
  return {
    nodeId, metadata, links,
    cut: async () => {
      await Promise.all(links.map((link) => link.cut()));
    },
    restore: async () => {
      await Promise.all(links.map((link) => link.restore()));
    },
  };
}

export async function closeTestBrokers(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((metadata) => metadata.close()));
}

/** Waits until every broker's copy shows a partition state matching `check`. */
export async function waitForState(brokers: TestBroker[], topic: string, partition: number, what: string, check: (state: PartitionState) => boolean, timeoutMs = 10_000): Promise<PartitionState> {
  await waitFor(what, () => brokers.every((b) => {
    const state = b.metadata.partitionState(topic, partition);
    return state !== undefined && check(state);
  }), timeoutMs);
  return brokers[0]!.metadata.partitionState(topic, partition)!;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
