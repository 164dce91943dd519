/**
 * A real cluster for tests: one etcd (or several members) and N brokers (node ids 1..N) as
 * child processes with short timeouts (lease 2 s). A broker can be killed (SIGKILL), stopped
 * gracefully (SIGTERM: controlled shutdown), paused (SIGSTOP) and started again on its port
 * and data, so clients' bootstrap lists stay valid. `cleanupCluster()` stops everything, also
 * after a failed test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrokerProcess, launchBroker } from '../../bench/broker-process.js';
import { waitForBrokersAlive } from './cluster-checks.js';
import { cleanupEtcd, type EtcdCluster, startTestEtcd } from './etcd.js';
import type { NetworkNamespace } from './network-namespace.js';

export interface ClusterBroker {
  nodeId: number;
  port: number;
  /** Its Kafka listener's port, kept across restarts like `port`. */
  kafkaPort: number;
  dataDirectory: string;
  /** The running process; undefined while it is down. */
  process: BrokerProcess | undefined;
  /** Whole log lines of every run of this broker, in order. */
  logs(): string[];
}

export interface TestCluster {
  etcd: EtcdCluster;
  brokers: ClusterBroker[];
  bootstrap: string;
  /** The Kafka listeners of the brokers as first started, for Kafka clients. */
  kafkaBootstrap: string;
  broker(nodeId: number): ClusterBroker;
  kill(nodeId: number): Promise<void>;
  stop(nodeId: number): Promise<void>;
  start(nodeId: number): Promise<void>;
  pause(nodeId: number): void;
  resume(nodeId: number): void;
}

export interface ClusterOptions {
  brokers?: number;
  etcdMembers?: number;
  /** Extra flags for every broker. */
  args?: string[];
  sessionTimeoutMs?: number;
  /** Run everything inside a network namespace, each process on its own address (fault tests). */
  network?: ClusterNetwork;
}

/**
 * Where a cluster's processes run when links between them are to be cut: etcd and each broker
 * on its own loopback address inside `namespace`, every broker binding its connections to other
 * brokers to its address (--local-address) and dialling etcd on a client port of its own (the
 * etcd client cannot choose its source address), so rules by address and port cut one broker off.
 */
export interface ClusterNetwork {
  namespace: NetworkNamespace;
  etcdHost: string;
  brokerHost(nodeId: number): string;
  /** The etcd client port only broker `nodeId` dials. */
  etcdPort(nodeId: number): number;
}

const clusters = new Set<{ root: string; brokers: ClusterBroker[] }>();

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cluster-'));
  const network = options.network;
  const brokerCount = options.brokers ?? 3;
  const nodeIds = Array.from({ length: brokerCount }, (_, index) => index + 1);
  if (network !== undefined && (options.etcdMembers ?? 1) !== 1) throw new Error('a cluster in a network namespace has one etcd member');
  const etcd = await startTestEtcd({
    members: options.etcdMembers ?? 1, dataDirectory: path.join(root, 'etcd'),
    ...(network === undefined ? {} : {
      host: network.etcdHost, command: network.namespace.command,
      // The peer port is used inside the namespace only, where nothing else listens.
      ports: [{ client: await network.namespace.expose(network.etcdHost), peer: 2380, extraClients: nodeIds.map((nodeId) => network.etcdPort(nodeId)) }],
    }),
  });
  const endpointsFor = (nodeId: number) => network === undefined
    ? `etcd://${etcd.endpoints.map((url) => url.replace(/^http:\/\//, '')).join(',')}`
    : `etcd://${network.etcdHost}:${network.etcdPort(nodeId)}`;
  const hostOf = (nodeId: number) => network?.brokerHost(nodeId) ?? '127.0.0.1';
  const brokers: ClusterBroker[] = [];
  const record = { root, brokers };
  clusters.add(record);
  const earlierLogs = new Map<number, string[]>();

  const launch = async (broker: ClusterBroker) => {
    const host = hostOf(broker.nodeId);
    // In a namespace the port is chosen outside, where the test reaches it, and kept across restarts.
    if (network !== undefined && broker.port === 0) broker.port = await network.namespace.expose(host);
    const started = await launchBroker(broker.dataDirectory, {
      port: broker.port,
      kafkaPort: broker.kafkaPort,
      ...(network === undefined ? {} : { host, command: network.namespace.command }),
      args: [
        '--node-id', String(broker.nodeId), '--cluster', endpointsFor(broker.nodeId), '--broker-session-timeout-ms', String(options.sessionTimeoutMs ?? 2000),
        '--replica-lag-time-max-ms', '3000', '--replica-fetch-wait-max-ms', '200', '--replica-fetch-backoff-ms', '100',
        // 50 offsets partitions (Kafka's default) are opened on one turn of each broker's event
        // loop when the third broker joins; on a loaded 2-core machine that can outlast a 2 s
        // lease (creation off the request path is issue 16). Tests that care pass their own count.
        ...(options.args?.includes('--offsets-topic-num-partitions') ? [] : ['--offsets-topic-num-partitions', '5']),
        ...(network === undefined ? [] : ['--local-address', host]), ...(options.args ?? []),
      ],
      readyTimeoutMs: 30_000,
    });
    broker.port = started.port;
    broker.kafkaPort = started.kafkaPort;
    broker.process = started;
    void started.exited.then(() => {
      earlierLogs.set(broker.nodeId, [...(earlierLogs.get(broker.nodeId) ?? []), ...started.logs]);
      if (broker.process === started) broker.process = undefined;
    });
  };

  for (const nodeId of nodeIds) {
    const broker: ClusterBroker = {
      nodeId, port: 0, kafkaPort: 0, dataDirectory: path.join(root, `broker-${nodeId}`), process: undefined,
      logs: () => [...(earlierLogs.get(nodeId) ?? []), ...(broker.process?.logs ?? [])],
    };
    brokers.push(broker);
  }
  await Promise.all(brokers.map(launch));

  const find = (nodeId: number) => {
    const broker = brokers.find((candidate) => candidate.nodeId === nodeId);
    if (broker === undefined) throw new Error(`no broker ${nodeId} in this cluster`);
    return broker;
  };
  const signal = (nodeId: number, name: NodeJS.Signals) => find(nodeId).process?.child.kill(name);
  const cluster: TestCluster = {
    etcd,
    brokers,
    bootstrap: brokers.map((broker) => `${hostOf(broker.nodeId)}:${broker.port}`).join(','),
    kafkaBootstrap: brokers.map((broker) => `${hostOf(broker.nodeId)}:${broker.kafkaPort}`).join(','),
    broker: find,
    async kill(nodeId) {
      const broker = find(nodeId);
      signal(nodeId, 'SIGCONT');
      await broker.process?.stop('SIGKILL');
    },
    async stop(nodeId) {
      const broker = find(nodeId);
      signal(nodeId, 'SIGCONT');
      await broker.process?.stop('SIGTERM');
    },
    async start(nodeId) {
      const broker = find(nodeId);
      if (broker.process === undefined) await launch(broker);
    },
    pause: (nodeId) => void signal(nodeId, 'SIGSTOP'),
    resume: (nodeId) => void signal(nodeId, 'SIGCONT'),
  };
  // A broker is ready once registered, but the controller may not have watched the last
  // registration yet: a topic created then would be refused for too few live brokers. (In a
  // network namespace the admin HTTP ports are not reachable from here: partitioned-cluster.ts
  // asks the cluster through the client instead.)
  if (network === undefined) await waitForBrokersAlive(cluster);
  return cluster;
}

/** Kills every broker of every cluster started, then etcd, and removes their files. */
export async function cleanupCluster(): Promise<void> {
  const all = [...clusters];
  clusters.clear();
  await Promise.all(all.flatMap((cluster) => cluster.brokers.map(async (broker) => {
    broker.process?.child.kill('SIGCONT');
    await broker.process?.stop('SIGKILL');
  })));
  await cleanupEtcd();
  for (const cluster of all) fs.rmSync(cluster.root, { recursive: true, force: true });
}
