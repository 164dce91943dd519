/**
 * Starts a real broker as a child process on ephemeral ports with a temporary data directory,
 * learns its ports from the "broker ready" log line, and stops it (SIGTERM, or SIGKILL to
 * simulate a crash). Every wait is bounded; `cleanup()` kills what is left and removes files.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const brokerEntry = path.resolve('dist/broker/main.js');

export interface BrokerProcess {
  port: number;
  httpPort: number;
  bootstrap: string;
  dataDirectory: string;
  child: ChildProcess;
  logs: string[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  dataDirectory?: string;
  port?: number;
  args?: string[];
  readyTimeoutMs?: number;
}

const started = new Set<BrokerProcess>();
const directories = new Set<string>();

export async function startBroker(options: StartOptions = {}): Promise<BrokerProcess> {
  const dataDirectory = options.dataDirectory ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-e2e-'));
  directories.add(dataDirectory);
  const child = spawn(process.execPath, [
    brokerEntry, '--data', dataDirectory, '--listen', `127.0.0.1:${options.port ?? 0}`, '--http-listen', '127.0.0.1:0', ...(options.args ?? []),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise<{ port: number; httpPort: number }>((resolve, reject) => {
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
          const parsed = JSON.parse(line) as { port: number; httpPort: number };
          resolve({ port: parsed.port, httpPort: parsed.httpPort });
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code ?? signal}) before it was ready; logs:\n${logs.join('\n')}`));
    });
  });
  const { port, httpPort } = await ready;
  const broker: BrokerProcess = {
    port, httpPort, bootstrap: `127.0.0.1:${port}`, dataDirectory, child, logs, exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const result = await exited;
      clearTimeout(timer);
      started.delete(broker);
      return result;
    },
  };
  started.add(broker);
  return broker;
}

/** Kills every broker still running and removes their data directories. */
export async function cleanupBrokers(): Promise<void> {
  await Promise.all([...started].map((broker) => broker.stop('SIGKILL')));
  for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
  directories.clear();
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
