/**
 * Share-group restart benchmark: how long a broker takes to come back with a million records
 * inside share windows. One broker process; a topic of 100 partitions × 10,000 records; 100
 * share consumers (this process) acquire every record under an hour-long lock and accept every
 * other one, so each window holds 10,000 offsets in alternating runs (the worst shape for the
 * state log: no run is longer than one record). Then, for a clean stop (SIGTERM) and a crash
 * (SIGKILL): time until the broker listens, until the share state is loaded (its log line), and
 * until a consumer gets a redelivered record; with the broker's RSS and the state log's size.
 * Baseline of the same run: reading the data directory's files raw (what a restart could not
 * beat) and loopback throughput.
 *
 *   npm run bench:share-restart -- [--json] [--partitions 100] [--per-partition 10000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';
import { type BrokerProcess, brokerMemory, launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, partitions: { type: 'string', default: '100' }, 'per-partition': { type: 'string', default: '10000' } } });
const partitions = Number(values.partitions);
const perPartition = Number(values['per-partition']);
const records = partitions * perPartition;
const topic = 'share-windows';
const groupId = 'restart-bench';
const progress = (text: string) => process.stderr.write(`${text}\n`);

/** Every file under the directory read once, raw: the floor under any restart. */
function readAllFiles(directory: string): { bytes: number; ms: number } {
  const started = performance.now();
  let bytes = 0;
  const buffer = Buffer.alloc(1024 * 1024);
  const walk = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) {
        const fd = fs.openSync(file, 'r');
        try {
          for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer)) bytes += read;
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  };
  walk(directory);
  return { bytes, ms: performance.now() - started };
}

function directoryBytes(directory: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

async function fill(bootstrap: string): Promise<void> {
  const sluice = new Sluice({ bootstrap });
  try {
    const admin = sluice.admin();
    await admin.createTopic(topic, { partitions });
    await admin.alterGroupConfigs(groupId, {
      'share.auto.offset.reset': 'earliest', 'share.partition.max.window': String(perPartition), 'share.member.max.in.flight': String(perPartition),
      'share.record.lock.duration.ms': '3600000',
    });
    const producer = sluice.producer({ lingerMs: 5 });
    const value = Buffer.alloc(100, 'x');
    for (let partition = 0; partition < partitions; partition += 1) {
      await producer.send({ topic, messages: Array.from({ length: perPartition }, () => ({ value, partition })) });
    }
    await producer.close();
    progress(`  produced ${records.toLocaleString('en-US')} records; acquiring them with ${partitions} share consumers, accepting every other one ...`);
    // Consumers prefetch beyond what they hand out, so the broker's view says when every offset is taken.
    let done = false;
    const deadline = Date.now() + 600_000;
    const consumers = Array.from({ length: partitions }, () => sluice.consumer({ groupId, share: true, maxInFlight: perPartition, sessionTimeoutMs: 60_000 }));
    const answers: Array<Promise<void>> = [];
    const polling = Promise.all(consumers.map(async (consumer) => {
      consumer.subscribe([topic]);
      while (!done && Date.now() < deadline) {
        for (const record of await consumer.poll({ timeoutMs: 200 })) if (record.offset % 2 === 0) answers.push(record.ack());
      }
    }));
    let taken = 0;
    while (taken < records && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      taken = (await admin.describeShareGroup(groupId)).partitions.reduce((sum, partition) => sum + partition.endOffset, 0);
    }
    done = true;
    await polling;
    await Promise.all(answers);
    if (taken < records) throw new Error(`acquired ${taken} of ${records} records within 600 s`);
    // The consumers are not closed: a close would release what they hold. The broker dies under them.
    for (const consumer of consumers) void consumer.close().catch(() => {});
  } finally {
    void sluice.close().catch(() => {});
  }
}

interface Restart { how: 'SIGTERM' | 'SIGKILL'; listeningMs: number; stateLoadedMs: number; stateLoadMs: number; firstRedeliveryMs: number; rssMiB: number }

async function restart(previous: BrokerProcess, how: 'SIGTERM' | 'SIGKILL'): Promise<{ broker: BrokerProcess; result: Restart }> {
  await previous.stop(how);
  const started = performance.now();
  const broker = await launchBroker(previous.dataDirectory, { kafkaPort: 'off', readyTimeoutMs: 120_000 });
  const listeningMs = performance.now() - started;
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  const consumer = sluice.consumer({ groupId, share: true, maxInFlight: 10 });
  consumer.subscribe([topic]);
  let firstRedeliveryMs = 0;
  const deadline = Date.now() + 120_000;
  while (firstRedeliveryMs === 0 && Date.now() < deadline) {
    const got = await consumer.poll({ timeoutMs: 200 });
    if (got.some((record) => record.deliveryCount >= 2)) firstRedeliveryMs = performance.now() - started;
  }
  await consumer.close();
  await sluice.close();
  if (firstRedeliveryMs === 0) throw new Error(`no redelivered record within 120 s of the ${how} restart`);
  // The coordinator logs each loaded __consumer_offsets partition; the group's is the one with share-partitions.
  const loaded = broker.logs.map((line) => { try { return JSON.parse(line) as { msg?: string; time?: number; sharePartitions?: number; loadMs?: number }; } catch { return {}; } })
    .find((line) => line.msg === 'share-group state loaded' && (line.sharePartitions ?? 0) > 0);
  const startedAt = Date.now() - (performance.now() - started);
  const stateLoadedMs = loaded?.time === undefined ? Number.NaN : loaded.time - startedAt;
  const memory = await brokerMemory(broker.httpPort);
  return { broker, result: { how, listeningMs, stateLoadedMs, stateLoadMs: loaded?.loadMs ?? Number.NaN, firstRedeliveryMs, rssMiB: memory.rss / 1024 ** 2 } };
}

async function main(): Promise<void> {
  progress('share restart bench: loopback baseline ...');
  const loopback = await loopbackMBps(512 * 1024 ** 2);
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-share-restart-'));
  let broker = await launchBroker(dataDirectory, { kafkaPort: 'off' });
  // A consumer's failure can end this process before `finally` runs: never leave a broker behind.
  process.once('exit', () => broker.child.kill('SIGKILL'));
  try {
    progress(`share restart bench: ${partitions} partitions × ${perPartition.toLocaleString('en-US')} records in windows (${records.toLocaleString('en-US')})`);
    await fill(broker.bootstrap);
    const restarts: Restart[] = [];
    for (const how of ['SIGTERM', 'SIGKILL'] as const) {
      progress(`  ${how} and restart ...`);
      const next = await restart(broker, how);
      broker = next.broker;
      restarts.push(next.result);
      progress(`    listening ${next.result.listeningMs.toFixed(0)} ms, share state loaded at ${next.result.stateLoadedMs.toFixed(0)} ms (load ${next.result.stateLoadMs.toFixed(0)} ms), first redelivery ${next.result.firstRedeliveryMs.toFixed(0)} ms, RSS ${next.result.rssMiB.toFixed(0)} MiB`);
    }
    await broker.stop();
    const dataBytes = directoryBytes(dataDirectory);
    const raw = readAllFiles(dataDirectory);
    progress(barChart(`restart with ${records.toLocaleString('en-US')} records in share windows (ms)`, restarts.flatMap((run): Array<[string, number]> => [
      [`${run.how} listening`, Math.round(run.listeningMs)], [`${run.how} redelivery`, Math.round(run.firstRedeliveryMs)],
    ]).concat([['raw read of data dir', Math.round(raw.ms)]])));
    progress(`baseline: raw read of the data directory ${(raw.bytes / 1024 ** 2).toFixed(0)} MiB in ${raw.ms.toFixed(0)} ms; loopback ${loopback.toFixed(0)} MiB/s; data directory ${(dataBytes / 1024 ** 2).toFixed(0)} MiB on disk`);
    const result = { date: new Date().toISOString(), machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`, partitions, perPartition, restarts, rawReadMs: Math.round(raw.ms), rawReadBytes: raw.bytes, loopbackMBps: Math.round(loopback) };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await broker.stop('SIGKILL').catch(() => {});
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
