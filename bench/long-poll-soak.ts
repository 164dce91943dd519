/**
 * Long-poll soak: fetches with a 1 ms wait on an empty partition, pipelined over several
 * connections, against one broker process run with --expose-gc. After every 100,000 long polls
 * the broker's heap is read after a forced full GC (GET /v1/debug/memory); a broker that keeps
 * anything per finished long poll shows it here as heap growth per 100k.
 *
 *   npm run bench:soak -- [--polls 500000] [--connections 8] [--depth 64] [--max-wait-ms 1]
 *                         [--heap-mb N] [--json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';
import { brokerMemory, launchBroker } from './broker-process.js';
import { LongPoller } from './long-poll-load.js';
import { barChart } from './report.js';

const { values } = parseArgs({
  options: {
    polls: { type: 'string', default: '500000' },
    step: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '8' },
    depth: { type: 'string', default: '64' },
    'max-wait-ms': { type: 'string', default: '1' },
    'heap-mb': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const polls = Number(values.polls);
const step = Number(values.step);
const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function main(): Promise<void> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-soak-'));
  const nodeArgs = ['--expose-gc', ...(values['heap-mb'] === undefined ? [] : [`--max-old-space-size=${values['heap-mb']}`])];
  const broker = await launchBroker(dataDirectory, { nodeArgs });
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  let poller: LongPoller | undefined;
  try {
    await sluice.admin().createTopic('soak', { partitions: 1 });
    poller = await LongPoller.open({ port: broker.port, topic: 'soak', connections: Number(values.connections), depth: Number(values.depth), maxWaitMs: Number(values['max-wait-ms']) });
    process.stderr.write(`long-poll soak: ${polls.toLocaleString('en-US')} fetches (maxWaitMs ${values['max-wait-ms']}) over ${values.connections} connections × ${values.depth} pipelined, heap after GC every ${step.toLocaleString('en-US')}\n`);
    const first = await brokerMemory(broker.httpPort);
    const rows: Array<{ polls: number; heapUsedMiB: number; rssMiB: number; pollsPerSecond: number }> = [{ polls: 0, heapUsedMiB: mib(first.heapUsed), rssMiB: mib(first.rss), pollsPerSecond: 0 }];
    for (let done = 0; done < polls; done += step) {
      const round = await poller.run(Math.min(step, polls - done), 600_000);
      if (round.errors.size > 0) throw new Error(`error responses: ${JSON.stringify([...round.errors])}`);
      const memory = await brokerMemory(broker.httpPort);
      const row = { polls: done + round.answered, heapUsedMiB: mib(memory.heapUsed), rssMiB: mib(memory.rss), pollsPerSecond: Math.round(round.answered / (round.elapsedMs / 1000)) };
      rows.push(row);
      process.stderr.write(`  ${row.polls.toLocaleString('en-US').padStart(9)} polls  heap ${row.heapUsedMiB} MiB  rss ${row.rssMiB} MiB  (${row.pollsPerSecond.toLocaleString('en-US')}/s)\n`);
    }
    const last = rows.at(-1)!;
    const heapGrowthPer100kMiB = Math.round(((last.heapUsedMiB - rows[0]!.heapUsedMiB) / (last.polls / 100_000)) * 100) / 100;
    process.stderr.write(`${barChart('broker heap after GC (MiB) by long polls answered', rows.map((row) => [row.polls.toLocaleString('en-US'), row.heapUsedMiB]))}\n`);
    process.stderr.write(`heap growth: ${heapGrowthPer100kMiB} MiB per 100k long polls\n`);
    if (!first.gcForced) process.stderr.write('warning: the broker did not force a GC; figures include garbage\n');
    const result = {
      date: new Date().toISOString(), machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
      polls, connections: Number(values.connections), depth: Number(values.depth), maxWaitMs: Number(values['max-wait-ms']), heapGrowthPer100kMiB, rows,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    poller?.close();
    await sluice.close();
    await broker.stop();
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
