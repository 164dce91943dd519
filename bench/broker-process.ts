/**
 * Launches a real broker as a child process on ephemeral ports (or a given port) with a data
 * directory, learns its ports (native, Kafka, HTTP) from the "broker ready" log line, and stops it (SIGTERM, or
 * SIGKILL to simulate a crash). Used by the benchmarks and, through test/helpers, the tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../proto/package-root.js';

export const cliEntry = path.join(packageRoot(import.meta.url), 'dist', 'cli', 'main.js');

export interface BrokerProcess {
  port: number;
  httpPort: number;
  /** The Kafka listener's port; −1 when it is off. */
  kafkaPort: number;
  bootstrap: string;
  /** HOST:PORT of the Kafka listener, for Kafka clients ('' when it is off). */
  kafkaBootstrap: string;
  dataDirectory: string;
  child: ChildProcess;
  logs: string[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  port?: number;
  /** The Kafka listener's port (default 0: a free one), or 'off'. */
  kafkaPort?: number | 'off';
  /** The address both listeners bind (default 127.0.0.1). */
  host?: string;
  /** Prefix of the command line, e.g. `nsenter --net=...` to run the broker in a network namespace. */
  command?: string[];
  args?: string[];
  /** Flags for node itself, before the script: --max-old-space-size=64, --expose-gc. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

export async function launchBroker(dataDirectory: string, options: StartOptions = {}): Promise<BrokerProcess> {
  const host = options.host ?? '127.0.0.1';
  const [program, ...prefix] = [...(options.command ?? []), process.execPath];
  const child = spawn(program!, [
    ...prefix, ...(options.nodeArgs ?? []), cliEntry, 'broker', '--data', dataDirectory, '--listen', `${host}:${options.port ?? 0}`, '--http-listen', `${host}:0`,
    '--kafka-listen', options.kafkaPort === 'off' ? 'off' : `${host}:${options.kafkaPort ?? 0}`, ...(options.args ?? []),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise<{ port: number; httpPort: number; kafkaPort: number }>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error(`broker not ready in time; logs:\n${logs.join('\n')}`)), options.readyTimeoutMs ?? 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        if (line.includes('"broker ready"')) {
          clearTimeout(timer);
          const parsed = JSON.parse(line) as { port: number; httpPort: number; kafkaPort: number };
          resolve({ port: parsed.port, httpPort: parsed.httpPort, kafkaPort: parsed.kafkaPort });
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code ?? signal}) before it was ready; logs:\n${logs.join('\n')}`));
    });
  });
  const { port, httpPort, kafkaPort } = await ready;
  const broker: BrokerProcess = {
    port, httpPort, kafkaPort, bootstrap: `${host}:${port}`, kafkaBootstrap: kafkaPort < 0 ? '' : `${host}:${kafkaPort}`, dataDirectory, child, logs, exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return broker;
}

export interface BrokerMemory extends NodeJS.MemoryUsage {
  gcForced: boolean;
  connections: number;
  /** Requests parked until data arrives, a timer fires, or the broker stops. */
  parkedRequests: number;
  /** The request memory budget (queued.max.request.bytes) and who waits for it. */
  requestMemory: { usedBytes: number; capacityBytes: number; waitingConnections: number };
}

/** GET /v1/debug/memory of a broker (a full GC first when it runs with --expose-gc). */
export async function brokerMemory(httpPort: number): Promise<BrokerMemory> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/debug/memory`);
  if (!response.ok) throw new Error(`GET /v1/debug/memory answered ${response.status}`);
  return await response.json() as BrokerMemory;
}
