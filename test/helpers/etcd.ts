/**
 * etcd for tests: real processes from bench/etcd-process.ts, remembered so `cleanupEtcd()`
 * (in afterEach/afterAll) stops every one of them even when a test failed half-way.
 */
import { type EtcdCluster, type EtcdOptions, startEtcd } from '../../bench/etcd-process.js';

export type { EtcdCluster, EtcdMember } from '../../bench/etcd-process.js';

const running = new Set<EtcdCluster>();

export async function startTestEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  const cluster = await startEtcd(options);
  running.add(cluster);
  return cluster;
}

export async function cleanupEtcd(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((cluster) => cluster.stop()));
}
