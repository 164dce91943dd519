/**
 * The broker's CPU time per produced record: one broker process, one client in this process,
 * 100-byte records to 6 partitions, first acks=1 without idempotence, then the client's
 * defaults (acks=all, idempotent). CPU time (user + system, from /proc, the broker's thread
 * pool included) drifts far less with the machine's load than wall-clock rates do, so it shows
 * a change in the broker's own work that `bench:e2e` hides in noise. The broker runs with
 * --trace-gc, and the full collections (mark-compacts) it made are counted.
 *
 * Baseline of the same run: the CPU time of copying the same bytes once (memcpy) and
 * loopback socket throughput.
 *
 *   npm run bench:produce-cpu -- [--json] [--records N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';
import type { ProducerOptions } from '../client/producer.js';
import { launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { cpuSeconds } from './process-cpu.js';
import { barChart } from './report.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    records: { type: 'string', default: '1000000' },
  },
});
const records = Number(values.records);
const recordBytes = 100;
const sendSize = 10_000;
const progress = (text: string) => process.stderr.write(`${text}\n`);
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** CPU microseconds to copy one record's bytes, from copying `records` of them in 1 MiB pieces. */
function memcpyMicrosPerRecord(): number {
  const source = Buffer.alloc(1024 * 1024, 7);
  const target = Buffer.alloc(1024 * 1024);
  const started = process.cpuUsage();
  for (let copied = 0; copied < records * recordBytes; copied += source.length) source.copy(target);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / records;
}

async function main(): Promise<void> {
  progress('baselines…');
  const loopback = await loopbackMBps();
  const memcpy = memcpyMicrosPerRecord();
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-cpu-'));
  const broker = await launchBroker(dataDirectory, { nodeArgs: ['--trace-gc'], kafkaPort: 'off' });
  const pid = broker.child.pid!;
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  const results: Record<string, { brokerCpuMicrosPerRecord: number; markCompacts: number; seconds: number }> = {};
  try {
    await sluice.admin().createTopic('cpu', { partitions: 6 });
    const value = Buffer.alloc(recordBytes, 120);
    const modes: Array<[string, Partial<ProducerOptions>]> = [['acks=1', { acks: 1, idempotent: false }], ['defaults (acks=all, idempotent)', {}]];
    for (const [name, options] of modes) {
      progress(`${name}: ${records} records…`);
      const producer = sluice.producer({ lingerMs: 5, ...options });
      const gcBefore = broker.logs.join('\n').split('Mark-Compact').length;
      const cpuBefore = cpuSeconds(pid) * 1e6;
      const started = performance.now();
      const inFlight: Array<Promise<unknown>> = [];
      for (let sent = 0; sent < records; sent += sendSize) {
        inFlight.push(producer.send({ topic: 'cpu', messages: Array.from({ length: Math.min(sendSize, records - sent) }, () => ({ value })) }));
        if (inFlight.length >= 8) await inFlight.shift();
      }
      await Promise.all(inFlight);
      await producer.close();
      results[name] = {
        brokerCpuMicrosPerRecord: round((cpuSeconds(pid) * 1e6 - cpuBefore) / records),
        markCompacts: broker.logs.join('\n').split('Mark-Compact').length - gcBefore,
        seconds: round((performance.now() - started) / 1000),
      };
    }
  } finally {
    await sluice.close();
    await broker.stop('SIGKILL');
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
    records,
    recordBytes,
    results,
    memcpyMicrosPerRecord: round(memcpy, 4),
    loopbackMBps: round(loopback, 1),
    brokerCpuVsMemcpy: Object.fromEntries(Object.entries(results).map(([name, entry]) => [name, Math.round(entry.brokerCpuMicrosPerRecord / memcpy)])),
  };
  console.log(JSON.stringify(result, null, values.json ? 0 : 2));
  if (!values.json) console.log(barChart('broker CPU µs per record', Object.entries(results).map(([name, entry]) => [name, entry.brokerCpuMicrosPerRecord])));
}

await main();
