/**
 * Runs a real etcd (one member or several) as child processes on free 127.0.0.1 ports with a
 * temporary data directory and the fast raft timings of REPLICATION-FACTS.md §Q, so benchmarks,
 * `dev-cluster` and tests get a metadata store in well under a second. Members can be stopped,
 * restarted on the same ports and data, and paused (SIGSTOP) to play a hung machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EtcdMember {
  name: string;
  /** http://HOST:PORT — what clients dial. */
  clientUrl: string;
  peerUrl: string;
  dataDirectory: string;
  /** The running process, or null while stopped. */
  readonly pid: number | null;
  logs: string[];
  /** Starts the member again on the same ports and data (after stop()). */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL, for the client's host list. */
  endpoints: string[];
  /** Stops every member and removes the data directories. */
  stop(): Promise<void>;
}

export interface EtcdOptions {
  members?: number;
  /** Parent of the members' data directories; a new temporary directory by default. */
  dataDirectory?: string;
  readyTimeoutMs?: number;
  /**
   * Fixed ports per member (dev-cluster with a kept data directory must come back on the same
   * ones); `extraClients`: more client ports of that member (fault tests give each broker its own).
   */
  ports?: Array<{ client: number; peer: number; extraClients?: number[] }>;
  /** The address members listen on (default 127.0.0.1). */
  host?: string;
  /** Prefix of the command line, e.g. `nsenter --net=...` to run etcd in a network namespace. */
  command?: string[];
}

const notInstalled = 'etcd is not on PATH: install it with `apt-get install etcd-server`';

export function etcdBinary(): string {
  for (const directory of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, 'etcd');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(notInstalled);
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(500) });
    const body = await response.json() as { health?: string };
    return response.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** Waits until every member answers /health (a leader is elected and it serves). */
async function waitHealthy(members: EtcdMember[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const member of members) {
    while (!(await healthy(member.clientUrl))) {
      if (member.pid === null) throw new Error(`etcd member ${member.name} exited before it was ready:\n${member.logs.join('')}`);
      if (Date.now() > deadline) throw new Error(`etcd member ${member.name} not healthy after ${timeoutMs} ms:\n${member.logs.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

class Member implements EtcdMember {
  readonly logs: string[] = [];
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  readonly #binary: string;
  readonly #args: string[];
  readonly #readyTimeoutMs: number;

  constructor(
    readonly name: string, readonly clientUrl: string, readonly peerUrl: string, readonly dataDirectory: string,
    initialCluster: string, token: string, command: string[], readyTimeoutMs: number, extraClientUrls: string[] = [],
  ) {
    this.#binary = command[0]!;
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#args = [
      ...command.slice(1), '--name', name, '--data-dir', dataDirectory,
      '--listen-client-urls', [clientUrl, ...extraClientUrls].join(','), '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-cluster-state', 'new',
      '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'warn', '--logger', 'zap',
    ];
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Spawns the process; readiness is awaited by the caller (a lone member of three is never healthy). */
  spawn(): void {
    if (this.#child !== null) return;
    const child = spawn(this.#binary, this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const keep = (chunk: Buffer) => {
      this.logs.push(chunk.toString());
      if (this.logs.length > 200) this.logs.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.#child === child) this.#child = null;
        resolve();
      });
      child.once('error', (error) => {
        this.logs.push(String(error));
        if (this.#child === child) this.#child = null;
        resolve();
      });
    });
  }

  async start(): Promise<void> {
    this.spawn();
    await waitHealthy([this], this.#readyTimeoutMs);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill('SIGCONT');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }
}

export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  const command = [...(options.command ?? []), etcdBinary()];
  const host = options.host ?? '127.0.0.1';
  const count = options.members ?? 1;
  const ownDirectory = options.dataDirectory === undefined;
  const root = options.dataDirectory ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-etcd-'));
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const ports: Array<{ client: number; peer: number; extraClients?: number[] }> = [...(options.ports ?? [])];
  for (let i = ports.length; i < count; i += 1) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ports.map((_, i) => `m${i + 1}`);
  const initialCluster = ports.map((p, i) => `${names[i]}=http://${host}:${p.peer}`).join(',');
  const token = randomUUID();
  const members = ports.map((p, i) => new Member(
    names[i]!, `http://${host}:${p.client}`, `http://${host}:${p.peer}`, path.join(root, names[i]!),
    initialCluster, token, command, readyTimeoutMs, (p.extraClients ?? []).map((port) => `http://${host}:${port}`),
  ));
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async stop() {
      // Members of a cluster stopping together wait on each other for a leader transfer; their data is thrown away anyway.
      await Promise.all(members.map((m) => m.stop('SIGTERM', 1_000)));
      if (ownDirectory) fs.rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (const member of members) member.spawn();
    await waitHealthy(members, readyTimeoutMs);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
