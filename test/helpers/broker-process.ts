/**
 * Brokers for tests: each starts as a real child process (bench/broker-process.ts) with a
 * temporary data directory; `cleanupBrokers()` kills what is left and removes the files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrokerProcess, launchBroker, type StartOptions } from '../../bench/broker-process.js';

export type { BrokerProcess } from '../../bench/broker-process.js';

const started = new Set<BrokerProcess>();
const directories = new Set<string>();

export async function startBroker(options: StartOptions & { dataDirectory?: string } = {}): Promise<BrokerProcess> {
  const dataDirectory = options.dataDirectory ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-e2e-'));
  directories.add(dataDirectory);
  const broker = await launchBroker(dataDirectory, options);
  started.add(broker);
  void broker.exited.then(() => started.delete(broker));
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
