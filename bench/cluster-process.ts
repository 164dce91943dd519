/**
 * A cluster of real processes for benchmarks: one etcd and brokers with node ids 1..N, each on
 * its own port and data directory under one temporary root. A broker can be SIGKILLed,
 * stopped (SIGTERM: controlled shutdown) and started again on the same port and data, so
 * clients' bootstrap lists stay valid. `close()` kills everything and removes the files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrokerProcess, launchBroker } from './broker-process.js';
import { type EtcdCluster, startEtcd } from './etcd-process.js';

export interface ClusterMember {
  nodeId: number;
  port: number;
  dataDirectory: string;
  /** The running process; undefined while it is down. */
  process: BrokerProcess | undefined;
}

export interface ProcessCluster {
  etcd: EtcdCluster;
  brokers: ClusterMember[];
  bootstrap: string;
  broker(nodeId: number): ClusterMember;
  /** The admin HTTP port of a running broker. */
  httpPort(nodeId: number): number;
  kill(nodeId: number): Promise<void>;
  stop(nodeId: number): Promise<void>;
  start(nodeId: number): Promise<void>;
  close(): Promise<void>;
}

export interface ProcessClusterOptions {
  brokers: number;
  /** Flags for every broker after --node-id and --cluster. */
  args: string[];
}

export async function startProcessCluster(options: ProcessClusterOptions): Promise<ProcessCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-cluster-'));
  const brokers: ClusterMember[] = Array.from({ length: options.brokers }, (_, index) => ({
    nodeId: index + 1, port: 0, dataDirectory: path.join(root, `broker-${index + 1}`), process: undefined,
  }));
  let etcd: EtcdCluster | undefined;
  const close = async () => {
    await Promise.all(brokers.map(async (broker) => await broker.process?.stop('SIGKILL')));
    await etcd?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    etcd = await startEtcd({ dataDirectory: path.join(root, 'etcd') });
    const endpoints = `etcd://${etcd.endpoints.map((url) => url.replace(/^http:\/\//, '')).join(',')}`;
    const launch = async (broker: ClusterMember) => {
      const started = await launchBroker(broker.dataDirectory, {
        port: broker.port, readyTimeoutMs: 30_000, args: ['--node-id', String(broker.nodeId), '--cluster', endpoints, ...options.args],
      });
      broker.port = started.port;
      broker.process = started;
      void started.exited.then(() => {
        if (broker.process === started) broker.process = undefined;
      });
    };
    await Promise.all(brokers.map(launch));
    const find = (nodeId: number) => {
      const broker = brokers.find((candidate) => candidate.nodeId === nodeId);
      if (broker === undefined) throw new Error(`no broker ${nodeId} in this cluster`);
      return broker;
    };
    return {
      etcd,
      brokers,
      bootstrap: brokers.map((broker) => `127.0.0.1:${broker.port}`).join(','),
      broker: find,
      httpPort(nodeId) {
        const running = find(nodeId).process;
        if (running === undefined) throw new Error(`broker ${nodeId} is not running`);
        return running.httpPort;
      },
      async kill(nodeId) {
        await find(nodeId).process?.stop('SIGKILL');
      },
      async stop(nodeId) {
        await find(nodeId).process?.stop('SIGTERM');
      },
      async start(nodeId) {
        const broker = find(nodeId);
        if (broker.process === undefined) await launch(broker);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
