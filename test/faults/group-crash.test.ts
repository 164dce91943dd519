/**
 * Consumer processes in one group; one is SIGKILLed mid-stream. Its partitions must be
 * consumed again by the others within the session timeout (plus a rebalance), every record
 * must be processed at least once, and records processed twice may only be ones the killed
 * member processed but had not committed. A static member restarted with the same instance
 * id gets its partitions back without the others rebalancing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const fixture = path.resolve('dist/test/e2e/fixtures/group-consumer.js');
const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await cleanupBrokers();
});

interface Worker {
  child: ChildProcess;
  assignments: number[][];
  records: Array<{ partition: number; offset: number; at: number }>;
}

function startWorker(bootstrap: string, group: string, topic: string, instanceId?: string, sessionTimeoutMs?: number): Worker {
  const extra = instanceId === undefined ? [] : [instanceId, ...(sessionTimeoutMs === undefined ? [] : [String(sessionTimeoutMs)])];
  const child = spawn(process.execPath, [fixture, bootstrap, group, topic, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const worker: Worker = { child, assignments: [], records: [] };
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    const now = Date.now();
    for (const line of lines) {
      const [kind, first, second] = line.split(' ');
      if (kind === 'assigned') worker.assignments.push(first === undefined || first === '' ? [] : first.split(',').map(Number));
      if (kind === 'rec') worker.records.push({ partition: Number(first), offset: Number(second), at: now });
    }
  });
  return worker;
}

const current = (worker: Worker) => worker.assignments[worker.assignments.length - 1] ?? [];

describe('consumer group under a member crash', () => {
  it('reassigns a SIGKILLed member\'s partitions and processes every record at least once', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '500'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('jobs', { partitions: 12 });
    const producer = sluice.producer();
    const send = (from: number, count: number) => producer.send({ topic: 'jobs', messages: Array.from({ length: count }, (_, index) => ({ value: `job-${from + index}`, partition: (from + index) % 12 })) });
    await send(0, 6000);
    const workers = ['w1', 'w2', 'w3'].map(() => startWorker(broker.bootstrap, 'crash-group', 'jobs'));
    await waitFor('three workers with four partitions each', () => workers.every((worker) => current(worker).length === 4), 20_000);
    await waitFor('the victim to process records', () => workers[2]!.records.length > 500, 20_000);
    const victim = workers[2]!;
    const victimPartitions = current(victim);
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await send(6000, 6000);
    const survivors = workers.slice(0, 2);
    await waitFor('the survivors to take over the victim\'s partitions', () => survivors.some((worker) => worker.records.some((record) => record.at > killedAt && victimPartitions.includes(record.partition))), 20_000);
    const takeoverMs = Math.min(...survivors.flatMap((worker) => worker.records.filter((record) => record.at > killedAt && victimPartitions.includes(record.partition)).map((record) => record.at))) - killedAt;
    // Session timeout 2 s, plus the rebalance: the partitions flow again well within 2 × that.
    expect(takeoverMs).toBeLessThan(6000);
    process.stdout.write(`takeover after SIGKILL: ${takeoverMs} ms (session timeout 2000 ms)\n`);

    const seen = new Map<string, number>();
    const count = () => {
      seen.clear();
      for (const worker of workers) for (const record of worker.records) seen.set(`${record.partition}/${record.offset}`, (seen.get(`${record.partition}/${record.offset}`) ?? 0) + 1);
      return seen.size;
    };
    await waitFor('every record to be processed', () => count() === 12_000, 30_000);
    const victimSeen = new Set(victim.records.map((record) => `${record.partition}/${record.offset}`));
    const duplicates = [...seen].filter(([, times]) => times > 1).map(([id]) => id);
    for (const id of duplicates) expect(victimSeen.has(id), `duplicate ${id} outside the killed member's uncommitted window`).toBe(true);
    for (const worker of survivors) expect(current(worker)).toHaveLength(6);
    for (const worker of survivors) worker.child.kill('SIGTERM');
    await producer.flush();
    await sluice.close();
  }, 120_000);

  // Long enough for a new Node process to start on a loaded 2-core CI machine (it took over 2 s there).
  const staticSessionMs = 10_000;

  it('gives a restarted static member its partitions back without a rebalance', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '500'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('static', { partitions: 6 });
    const first = startWorker(broker.bootstrap, 'static-group', 'static', 'instance-a', staticSessionMs);
    // The second joins once the first owns every partition, so the first's last JoinGroup lists
    // partitions it owned, which its restarted instance's does not: no reason to rebalance either.
    await waitFor('the first static member to own all six partitions', () => current(first).length === 6, 20_000);
    const other = startWorker(broker.bootstrap, 'static-group', 'static', 'instance-b', staticSessionMs);
    await waitFor('two static members with three partitions each', () => current(first).length === 3 && current(other).length === 3, 20_000);
    const mine = current(first);
    const otherAssignments = other.assignments.length;
    first.child.kill('SIGKILL');
    const again = startWorker(broker.bootstrap, 'static-group', 'static', 'instance-a', staticSessionMs);
    await waitFor('the restarted member to get an assignment', () => again.assignments.length > 0, 10_000);
    expect(current(again)).toEqual(mine);
    expect(other.assignments).toHaveLength(otherAssignments);
    again.child.kill('SIGTERM');
    other.child.kill('SIGTERM');
    await sluice.close();
  }, 60_000);
});
