/**
 * etcd for tests: real processes from bench/etcd-process.ts, remembered so `cleanupEtcd()`
 * (in afterEach/afterAll) stops every one of them even when a test failed half-way.
 */
import net from 'node:net';
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

/**
 * A TCP relay in front of etcd for one in-process "broker": cut() refuses and drops its
 * connections (the broker is cut off from etcd, as if its machine hung or the link broke, so
 * its leases expire), restore() lets it through again on the same port.
 */
export interface EtcdLink {
  endpoint: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

const links = new Set<{ close(): Promise<void> }>();

export async function startEtcdLink(target: string): Promise<EtcdLink> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const handle = { close };
  links.add(handle);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut: close,
    restore: async () => {
      if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

export async function cleanupEtcdLinks(): Promise<void> {
  const all = [...links];
  links.clear();
  await Promise.all(all.map((link) => link.close()));
}
