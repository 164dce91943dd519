/**
 * A test cluster whose links can be cut (REPLICATION-FACTS.md §R): etcd on 127.0.0.10 and
 * broker N on 127.0.0.(10+N), all inside a private network namespace, so iptables DROP rules by
 * address (and by the etcd client port each broker has to itself) cut one broker off from etcd
 * and the other brokers, both ways, while the test's clients still reach every broker. The
 * rules live in one chain of the namespace: `heal()` empties it, and the namespace goes away
 * with its processes.
 */
import { Sluice } from '../../client/sluice.js';
import { waitFor } from './broker-process.js';
import { type ClusterNetwork, type ClusterOptions, startCluster, type TestCluster } from './cluster.js';
import { type NetworkNamespace, startNetworkNamespace } from './network-namespace.js';

export interface PartitionableCluster extends TestCluster {
  namespace: NetworkNamespace;
  network: ClusterNetwork;
  /** Drops every packet between broker `nodeId` and etcd or the other brokers, both ways. */
  isolate(nodeId: number): Promise<void>;
  /** Removes every cut. */
  heal(): Promise<void>;
}

const chain = 'SLUICE-CUTS';
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;

export async function startPartitionableCluster(options: Omit<ClusterOptions, 'network' | 'etcdMembers'> = {}): Promise<PartitionableCluster> {
  const namespace = await startNetworkNamespace();
  await namespace.iptables('-N', chain);
  await namespace.iptables('-A', 'INPUT', '-j', chain);
  const network: ClusterNetwork = {
    namespace,
    etcdHost: '127.0.0.10',
    brokerHost: (nodeId) => `127.0.0.${10 + nodeId}`,
    etcdPort: (nodeId) => 2380 + nodeId,
  };
  const cluster = await startCluster({ ...options, network });
  // As startCluster does outside a namespace: every broker alive in the controller's view before any topic is made.
  const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
  try {
    await waitFor('every broker alive in the cluster\'s view', async () => {
      const view = await sluice.admin().describeCluster().catch(() => undefined);
      return view !== undefined && view.controllerId >= 0 && cluster.brokers.every((broker) => view.brokers.some((seen) => seen.nodeId === broker.nodeId && seen.alive));
    }, 15_000);
  } finally {
    await sluice.close();
  }
  const drop = (...match: string[]) => namespace.iptables('-A', chain, ...match, '-j', 'DROP');
  return {
    ...cluster,
    namespace,
    network,
    async isolate(nodeId) {
      const own = network.brokerHost(nodeId);
      for (const other of cluster.brokers) {
        if (other.nodeId === nodeId) continue;
        const address = network.brokerHost(other.nodeId);
        await drop('-s', own, '-d', address);
        await drop('-s', address, '-d', own);
      }
      const etcdPort = String(network.etcdPort(nodeId));
      await drop('-p', 'tcp', '-d', network.etcdHost, '--dport', etcdPort);
      await drop('-p', 'tcp', '-s', network.etcdHost, '--sport', etcdPort);
    },
    async heal() {
      await namespace.iptables('-F', chain);
    },
  };
}
