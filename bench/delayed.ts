/**
 * Delayed-delivery benchmark, one broker process (default one-hour in-memory window), 100-byte
 * records, in one run:
 *   0. plain: the same records (with the header) to a topic without delayed.delivery.enable.
 *   1. held: N delayed records produced (default 10M): one in ten due within the hour (indexed
 *      in memory), the rest due in 1 h – 6 days (on disk only), interleaved at random — the worst
 *      case for the timer log's batch-header scan. Produce rate, broker RSS and heap after a
 *      full GC, backlog in memory and on disk, index bytes.
 *   2. recovery: SIGKILL, restart on the same data; time to ready and the timer log's own
 *      recovery time, RSS after.
 *   3. firing rate: F records due at the same instant; time from that instant until all fired.
 *   4. lateness: records sent at a steady rate, each due 0.5–2 s after it was sent
 *      (x-deliver-at), read back: append time − due time p50/p99/max, and early firings
 *      (append before due; must be 0).
 * The machine's baseline from the same run: Node-to-Node loopback socket throughput.
 *
 *   npm run bench:delayed -- [--json] [--records N] [--fire-records F] [--lateness-records L] [--lateness-rate R]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ConsumerRecord } from '../client/consumer.js';
import { Sluice } from '../client/sluice.js';
import { type BrokerProcess, brokerMemory, launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';
import { seededRandom } from './seeded-random.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    records: { type: 'string', default: '10000000' },
    'fire-records': { type: 'string', default: '500000' },
    'lateness-records': { type: 'string', default: '20000' },
    'lateness-rate': { type: 'string', default: '2000' },
  },
});
const heldRecords = Number(values.records);
const fireRecords = Number(values['fire-records']);
const latenessRecords = Number(values['lateness-records']);
const latenessRate = Number(values['lateness-rate']);
const progress = (text: string) => process.stderr.write(`${text}\n`);
const count = (value: number) => Math.round(value).toLocaleString('en-US');
const mib = (bytes: number) => Math.round(bytes / 1024 ** 2);
const random = seededRandom(20);
const value = Buffer.alloc(100, 'v');
const sendsInFlight = 16;
const messagesPerSend = 1000;
const brokerArgs = { kafkaPort: 'off' as const, nodeArgs: ['--expose-gc', '--max-old-space-size=4096'], readyTimeoutMs: 600_000 };

async function delayedMetrics(broker: BrokerProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const metrics: Record<string, number> = {};
  for (const match of text.matchAll(/^sluice_delayed_(\w+) (\S+)$/gm)) metrics[match[1]!] = Number(match[2]);
  metrics.timer_log_bytes = Number(/^sluice_log_size_bytes\{topic="__delayed_records",partition="0"\} (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  return metrics;
}

/** Sends `total` records to `topic`, each due at `due(index)`; resolves with records/s. */
async function produce(sluice: Sluice, topic: string, total: number, due: (index: number) => number): Promise<number> {
  const producer = sluice.producer({ lingerMs: 5, bufferMemoryBytes: 256 * 1024 * 1024 });
  const started = Date.now();
  const inflight: Promise<unknown>[] = [];
  let lastReport = started;
  for (let first = 0; first < total; first += messagesPerSend) {
    const messages = [];
    for (let index = first; index < Math.min(total, first + messagesPerSend); index += 1) messages.push({ value, headers: { 'x-deliver-at': String(due(index)) } });
    inflight.push(producer.send({ topic, messages }));
    if (inflight.length >= sendsInFlight) await inflight.shift();
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      progress(`  ${count(first)} sent, ${count(first / ((lastReport - started) / 1000))} records/s`);
    }
  }
  await Promise.all(inflight);
  await producer.close();
  return total / ((Date.now() - started) / 1000);
}

/** Reads every partition of `topic` from the start until `total` records arrived. */
async function consume(sluice: Sluice, topic: string, partitions: number, total: number): Promise<ConsumerRecord[]> {
  const consumer = sluice.consumer({});
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  const records: ConsumerRecord[] = [];
  const deadline = Date.now() + 120_000;
  while (records.length < total && Date.now() < deadline) records.push(...await consumer.poll({ timeoutMs: 500 }));
  await consumer.close();
  return records;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-delayed-'));
  let broker = await launchBroker(dataDirectory, brokerArgs);
  let sluice = new Sluice({ bootstrap: broker.bootstrap });
  try {
    const configs = { 'delayed.delivery.enable': 'true' };
    for (const topic of ['held', 'burst', 'paced']) await sluice.admin().createTopic(topic, { partitions: 1, configs });
    const idle = await brokerMemory(broker.httpPort);
    progress(`delayed bench: broker pid ${broker.child.pid}, 100-byte records, 1-hour window; idle RSS ${mib(idle.rss)} MiB`);

    const plainRecords = Math.min(heldRecords, 1_000_000);
    progress(`plain: producing ${count(plainRecords)} records with the same header to a topic without delayed.delivery.enable ...`);
    await sluice.admin().createTopic('plain', { partitions: 1 });
    const plainRate = await produce(sluice, 'plain', plainRecords, () => Date.now() + 7200_000);
    progress(`  ${count(plainRate)} records/s`);

    progress(`held: producing ${count(heldRecords)} delayed records (1 in 10 due within the hour) ...`);
    const now = Date.now();
    const heldRate = await produce(sluice, 'held', heldRecords, (index) => (index % 10 === 0
      ? now + 10 * 60_000 + Math.floor(random() * 45 * 60_000) : now + 3600_000 + 60_000 + Math.floor(random() * 5 * 86_400_000)));
    const held = await brokerMemory(broker.httpPort);
    const heldMetrics = await delayedMetrics(broker);
    progress(`  ${count(heldRate)} records/s; RSS ${mib(held.rss)} MiB, heap ${mib(held.heapUsed)} MiB; in memory ${count(heldMetrics.backlog_in_memory!)}, on disk ${count(heldMetrics.backlog_on_disk!)}, index ${mib(heldMetrics.index_bytes!)} MiB; timer log ${mib(heldMetrics.timer_log_bytes!)} MiB`);

    progress('recovery: SIGKILL and restart ...');
    await sluice.close();
    await broker.stop('SIGKILL');
    const restartStarted = Date.now();
    broker = await launchBroker(dataDirectory, brokerArgs);
    const readyMs = Date.now() - restartStarted;
    // The broker serves while the timer log recovers: its line comes when that is done.
    const recoveredBy = Date.now() + 600_000;
    let recoveredLine: string | undefined;
    while ((recoveredLine = broker.logs.find((line) => line.includes('"delayed records recovered"'))) === undefined && Date.now() < recoveredBy) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const timerRecoverMs = recoveredLine === undefined ? Number.NaN : (JSON.parse(recoveredLine) as { recoverMs: number }).recoverMs;
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    const recovered = await brokerMemory(broker.httpPort);
    const recoveredMetrics = await delayedMetrics(broker);
    progress(`  ready in ${count(readyMs)} ms (serving); timer log recovered in ${count(timerRecoverMs)} ms; RSS ${mib(recovered.rss)} MiB; in memory ${count(recoveredMetrics.backlog_in_memory!)}, on disk ${count(recoveredMetrics.backlog_on_disk!)}`);

    progress(`firing rate: ${count(fireRecords)} records due at one instant ...`);
    const firedBefore = recoveredMetrics.fired_total!;
    const fireAt = Date.now() + Math.ceil((fireRecords / heldRate) * 1500) + 3000;
    await produce(sluice, 'burst', fireRecords, () => fireAt);
    if (Date.now() >= fireAt) progress('  (producing took longer than planned: some fired while it ran)');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, fireAt - Date.now())));
    await waitUntil(async () => (await delayedMetrics(broker)).fired_total! >= firedBefore + fireRecords, 600_000, 'the burst to fire');
    // The last append's time is the last record's timestamp (the broker's clock), read back.
    const burst = await consume(sluice, 'burst', 1, fireRecords);
    const fireSeconds = (burst.reduce((last, record) => Math.max(last, record.timestamp), 0) - fireAt) / 1000;
    const fireRate = fireRecords / fireSeconds;
    progress(`  all fired ${fireSeconds.toFixed(2)} s after the due time: ${count(fireRate)} records/s`);

    progress(`lateness: ${count(latenessRecords)} records at ${count(latenessRate)}/s, each due 0.5–2 s after sending ...`);
    const pacer = sluice.producer({ lingerMs: 0 });
    const pacedStarted = Date.now();
    const sends: Promise<unknown>[] = [];
    for (let sent = 0; sent < latenessRecords;) {
      const target = Math.min(latenessRecords, Math.floor(((Date.now() - pacedStarted) / 1000) * latenessRate));
      for (; sent < target; sent += 1) {
        sends.push(pacer.send({ topic: 'paced', messages: [{ value, headers: { 'x-deliver-at': String(Date.now() + 500 + Math.floor(random() * 1500)) } }] }));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(sends);
    const paced = await consume(sluice, 'paced', 1, latenessRecords);
    const lateness = paced.map((record) => record.timestamp - Number(record.headers.find((header) => header.key === 'x-deliver-at')!.value!.toString())).sort((a, b) => a - b);
    const early = lateness.filter((ms) => ms < 0).length;
    const finalMetrics = await delayedMetrics(broker);
    const latenessMs = { p50: percentile(lateness, 0.5), p99: percentile(lateness, 0.99), max: lateness[lateness.length - 1] ?? Number.NaN };
    progress(`  ${paced.length} read back; lateness p50 ${latenessMs.p50} ms, p99 ${latenessMs.p99} ms, max ${latenessMs.max} ms; early ${early} (broker metric ${finalMetrics.early_total})`);

    progress('baseline: loopback socket ...');
    const loopback = await loopbackMBps();
    progress(`  ${count(loopback)} MB/s`);

    const result = {
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loopbackMBps: Math.round(loopback) },
      plain: { records: plainRecords, produceRecordsPerSec: Math.round(plainRate) },
      held: {
        records: heldRecords, produceRecordsPerSec: Math.round(heldRate), rssMiB: mib(held.rss), heapUsedMiB: mib(held.heapUsed), idleRssMiB: mib(idle.rss),
        inMemory: heldMetrics.backlog_in_memory, onDisk: heldMetrics.backlog_on_disk, indexBytes: heldMetrics.index_bytes,
        timerLogMiB: mib(heldMetrics.timer_log_bytes!),
      },
      recovery: { readyMs, timerRecoverMs, rssMiB: mib(recovered.rss), inMemory: recoveredMetrics.backlog_in_memory, onDisk: recoveredMetrics.backlog_on_disk },
      firing: { records: fireRecords, seconds: fireSeconds, recordsPerSec: Math.round(fireRate) },
      lateness: { records: paced.length, ...latenessMs, early, earlyMetric: finalMetrics.early_total },
      produceRecordsPerSecVsLoopback: `${((heldRate * 100) / 1024 ** 2 / loopback * 100).toFixed(2)} % of loopback bytes`,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      process.stdout.write(`${barChart('records/s', [['produce plain', plainRate], ['produce delayed', heldRate], ['fire', fireRate]])}\n`);
      process.stdout.write(`${barChart('lateness ms', [['p50', latenessMs.p50], ['p99', latenessMs.p99], ['max', latenessMs.max]])}\n`);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    await sluice.close().catch(() => {});
    await broker.stop('SIGTERM');
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
