/**
 * Exactly once through transactions (issue 12): a consume-transform-produce loop (test/e2e/
 * fixtures/ctp-loop.ts: read A with read_committed, write B and commit the offsets of A in the
 * same transaction) SIGKILLed at random points 10 times and started again each time with the
 * same transactional id — the new instance fences the old one and its open transaction is
 * aborted — then left to finish. B read with read_committed holds every input record's output
 * exactly once; read_uncommitted also shows the outputs of the aborted transactions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const loopEntry = path.resolve('dist/test/e2e/fixtures/ctp-loop.js');
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
const inputs = 4000;
const kills = 10;

let broker: BrokerProcess;
let sluice: Sluice;
const children = new Set<ChildProcess>();

function startLoop(): { child: ChildProcess; committed: () => number; stderr: () => string; exited: Promise<void> } {
  const child = spawn(process.execPath, [loopEntry, broker.bootstrap, 'ctp-in', 'ctp-out', 'ctp-group', 'ctp-tx'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let committed = 0;
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { committed += (chunk.toString().match(/committed/g) ?? []).length; });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    children.delete(child);
    if (signal === null && code !== 0) console.error(`ctp loop exited ${code}: ${stderr}`);
    resolve();
  }));
  return { child, committed: () => committed, stderr: () => stderr, exited };
}

async function readAll(isolationLevel: 'read_committed' | 'read_uncommitted', atLeast: number): Promise<string[]> {
  const consumer = sluice.consumer({ groupId: `ctp-check-${isolationLevel}`, isolationLevel, autoCommit: false, autoOffsetReset: 'earliest', maxWaitMs: 100 });
  consumer.subscribe(['ctp-out']);
  const values: string[] = [];
  try {
    let quietSince = Date.now();
    await waitFor(`${atLeast} outputs (${isolationLevel})`, async () => {
      const records = await consumer.poll({ timeoutMs: 200 });
      for (const record of records) values.push(record.value?.toString() ?? '');
      if (records.length > 0) quietSince = Date.now();
      return values.length >= atLeast && Date.now() - quietSince > 1000;
    }, 60_000);
  } finally {
    await consumer.close();
  }
  return values;
}

beforeAll(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
  sluice = new Sluice({ bootstrap: broker.bootstrap, logger: quiet });
  await sluice.admin().createTopic('ctp-in', { partitions: 2 });
  await sluice.admin().createTopic('ctp-out', { partitions: 2 });
  const producer = sluice.producer({ lingerMs: 5 });
  for (let start = 0; start < inputs; start += 500) {
    await producer.send({ topic: 'ctp-in', messages: Array.from({ length: 500 }, (_, index) => ({ value: `in-${start + index}`, partition: (start + index) % 2 })) });
  }
  await producer.close();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sluice.close();
  await cleanupBrokers();
});

describe('consume-transform-produce with transactions', () => {
  it('outputs every input exactly once across 10 SIGKILLs of the loop', async () => {
    let progressed = 0;
    for (let kill = 0; kill < kills; kill += 1) {
      const loop = startLoop();
      // Somewhere after its first commit: mid-transaction, between transactions, or while committing.
      await waitFor('the loop to commit once', () => loop.committed() > 0, 30_000).catch((error: unknown) => {
        console.log(`kill ${kill}: stderr ${loop.stderr()}\nbroker: ${broker.logs.slice(-30).join('\n')}`);
        throw error;
      });
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      progressed += loop.committed();
      loop.child.kill('SIGKILL');
      await loop.exited;
    }
    const last = startLoop();
    const group = async () => (await sluice.admin().describeGroup('ctp-group')).partitions;
    await waitFor('the group to have committed every input', async () => {
      const partitions = await group().catch(() => []);
      return partitions.length === 2 && partitions.every((entry) => entry.committedOffset === inputs / 2);
    }, 120_000);
    last.child.kill('SIGTERM');
    await last.exited;
    expect(progressed).toBeGreaterThan(0);

    const committed = await readAll('read_committed', inputs);
    const counts = new Map<string, number>();
    for (const value of committed) counts.set(value, (counts.get(value) ?? 0) + 1);
    const missing = Array.from({ length: inputs }, (_, index) => `out:in-${index}`).filter((value) => !counts.has(value));
    const duplicated = [...counts].filter(([, count]) => count > 1).map(([value]) => value);
    expect({ missing: missing.slice(0, 10), duplicated: duplicated.slice(0, 10), total: committed.length }).toEqual({ missing: [], duplicated: [], total: inputs });
    // Most kills land inside a transaction (the loop pauses in each): the next instance's
    // InitProducerId aborted those, and what they wrote is in the log for read_uncommitted.
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    const aborted = Number(/^sluice_transactions_aborted_total (\S+)$/m.exec(metrics)?.[1]);
    expect(aborted).toBeGreaterThan(0);
    const uncommitted = await readAll('read_uncommitted', inputs);
    expect(uncommitted.length).toBeGreaterThan(inputs);
  }, 300_000);
});
