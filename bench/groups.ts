/**
 * Group rebalance benchmark: a group of 10 consumers over 100 partitions is stable, an 11th
 * joins; how long until every partition again has exactly one owner and the load is balanced
 * (each member 9 or 10 partitions)? Measured for cooperative-sticky and for the eager range
 * assignor, one broker process, consumers in this process.
 *
 *   npm run bench:groups -- [--json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AssignorName } from '../client/groups/assignors.js';
import { Sluice } from '../client/sluice.js';
import { launchBroker } from './broker-process.js';
import { barChart } from './report.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, members: { type: 'string', default: '10' }, partitions: { type: 'string', default: '100' } } });
const memberCount = Number(values.members);
const partitionCount = Number(values.partitions);

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('the group did not settle in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function measure(bootstrap: string, assignor: AssignorName): Promise<number> {
  const sluice = new Sluice({ bootstrap });
  const topic = `rebalance-${assignor}`;
  await sluice.admin().createTopic(topic, { partitions: partitionCount });
  const owned: Array<Set<number>> = [];
  const join = () => {
    const mine = new Set<number>();
    owned.push(mine);
    const consumer = sluice.consumer({ groupId: `bench-${assignor}`, assignor, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 100 });
    consumer.subscribe([topic], {
      onAssigned: (_assignment, added) => { for (const entry of added) mine.add(entry.partition); },
      onRevoked: (revoked) => { for (const entry of revoked) mine.delete(entry.partition); },
    });
  };
  const balanced = (members: number) => {
    const all = owned.flatMap((set) => [...set]);
    const low = Math.floor(partitionCount / members);
    return owned.length === members && all.length === partitionCount && new Set(all).size === partitionCount
      && owned.every((set) => set.size === low || set.size === low + 1);
  };
  for (let index = 0; index < memberCount; index += 1) join();
  await waitUntil(() => balanced(memberCount), 60_000);
  const started = performance.now();
  join();
  await waitUntil(() => balanced(memberCount + 1), 60_000);
  const elapsed = performance.now() - started;
  await sluice.close();
  return elapsed;
}

async function main(): Promise<void> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-groups-'));
  const broker = await launchBroker(dataDirectory, { args: ['--group-initial-rebalance-delay-ms', '300'] });
  try {
    process.stderr.write(`group rebalance bench: ${memberCount} members over ${partitionCount} partitions, one joins\n`);
    const cooperative = await measure(broker.bootstrap, 'cooperative-sticky');
    process.stderr.write(`  cooperative-sticky: ${cooperative.toFixed(0)} ms\n`);
    const range = await measure(broker.bootstrap, 'range');
    process.stderr.write(`  range (eager): ${range.toFixed(0)} ms\n`);
    process.stderr.write(`${barChart('ms until the group is balanced again', [['cooperative-sticky', Math.round(cooperative)], ['range', Math.round(range)]])}\n`);
    const result = { date: new Date().toISOString(), machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`, members: memberCount, partitions: partitionCount, heartbeatIntervalMs: 100, cooperativeStickyRebalanceMs: Math.round(cooperative), rangeRebalanceMs: Math.round(range) };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await broker.stop();
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
