/**
 * Many partitions on one broker process: the time to create one topic of 10,000 partitions and
 * the longest event-loop stall while it runs (the broker's own monitorEventLoopDelay, through
 * its /metrics, and the slowest round trip of a client pinging it every 10 ms); the descriptors
 * and mappings the broker holds with those partitions idle; produce throughput to 1, 100 and
 * 10,000 partitions; the time a clean stop takes, and the time to be ready again after it and
 * after a kill -9. With, as the machine's baseline from the same run, Node-to-Node loopback
 * socket throughput.
 *
 *   npm run bench:partitions -- [--json] [--partitions N] [--records N]
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BrokerConnection } from '../client/connection.js';
import { Api } from '../proto/messages.js';
import { buildRecordBatch } from '../proto/record-batch/record-batch.js';
import { type BrokerProcess, launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    partitions: { type: 'string', default: '10000' },
    records: { type: 'string', default: '2000000' },
  },
});
const wide = Number(values.partitions);
const recordsPerRun = Number(values.records);
const progress = (line: string) => process.stderr.write(`${line}\n`);
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

const options = { args: ['--max-partitions', String(wide + 1000)], readyTimeoutMs: 300_000, kafkaPort: 'off' as const };

function connect(broker: BrokerProcess): BrokerConnection {
  return new BrokerConnection({ host: '127.0.0.1', port: broker.port, requestTimeoutMs: 300_000 });
}

/** The broker's event-loop delay maximum since the last scrape (prom-client resets it on each). */
async function eventLoopLagMaxMs(broker: BrokerProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith('sluice_nodejs_eventloop_lag_max_seconds '));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]) * 1000;
}

async function resources(broker: BrokerProcess): Promise<{ openDescriptors: number; mappings: number; partitions: { open: number } }> {
  return (await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/broker`)).json()).resources;
}

/** Creates `partitions` partitions while pinging every 10 ms; returns the create time and the slowest ping. */
async function createWhilePinging(broker: BrokerProcess, partitions: number): Promise<{ seconds: number; slowestPingMs: number; lagMaxMs: number }> {
  const admin = connect(broker);
  const pinger = connect(broker);
  await eventLoopLagMaxMs(broker);
  let slowest = 0;
  let creating = true;
  const pings = (async () => {
    while (creating) {
      const started = performance.now();
      await pinger.request<'metadata'>(Api.METADATA, { topics: ['none'] }).catch(() => undefined);
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const started = performance.now();
  const result = (await admin.request<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name: 'wide', partitions, configs: {} }] })).topics[0]!;
  const seconds = (performance.now() - started) / 1000;
  creating = false;
  await pings;
  const lagMaxMs = await eventLoopLagMaxMs(broker);
  admin.close();
  pinger.close();
  if (result.errorCode !== 0) throw new Error(`create failed: ${result.errorMessage}`);
  return { seconds, slowestPingMs: slowest, lagMaxMs };
}

/**
 * Produces `total` 100-byte records, 5,000 per request spread over min(50, partitions)
 * partitions (one batch each, as a produce carries), round-robin over `partitions` partitions
 * of `topic`, 8 requests in flight; returns records/s.
 */
async function produceRate(broker: BrokerProcess, topic: string, partitions: number, total: number): Promise<number> {
  const connection = connect(broker);
  const entries = Math.min(50, partitions);
  const batch = buildRecordBatch(Array.from({ length: 5000 / entries }, (_, n) => ({ key: null, value: Buffer.alloc(100, n), timestamp: Date.now() })));
  const requests = Math.ceil(total / 5000);
  let cursor = 0;
  let sent = 0;
  const started = performance.now();
  const worker = async () => {
    while (sent < requests) {
      sent += 1;
      const wanted = Array.from({ length: entries }, () => {
        cursor += 1;
        return { partition: cursor % partitions, records: batch };
      });
      const response = await connection.request<'produce'>(Api.PRODUCE, { acks: 1, timeoutMs: 30_000, topics: [{ name: topic, partitions: wanted }] });
      const failed = response.topics[0]!.partitions.find((result) => result.errorCode !== 0);
      if (failed !== undefined) throw new Error(`produce failed: ${failed.errorMessage}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const seconds = (performance.now() - started) / 1000;
  connection.close();
  return (requests * 5000) / seconds;
}

/** Sends `signal` and waits for the process to go, however long a clean stop takes. */
async function stop(broker: BrokerProcess, signal: NodeJS.Signals): Promise<number> {
  const started = performance.now();
  const child: ChildProcess = broker.child;
  child.kill(signal);
  await broker.exited;
  return (performance.now() - started) / 1000;
}

async function timedStart(dataDirectory: string): Promise<{ broker: BrokerProcess; seconds: number; opened: unknown }> {
  const started = performance.now();
  const broker = await launchBroker(dataDirectory, options);
  const seconds = (performance.now() - started) / 1000;
  const opened = logEntries(broker).find((line) => line.msg === 'partitions opened');
  return { broker, seconds, opened };
}

/** The broker's JSON log lines so far (stderr text is left out). */
function logEntries(broker: BrokerProcess): Array<Record<string, unknown>> {
  return broker.logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Waits (up to 5 minutes) for the broker to log `message`; returns that line. */
async function logLine(broker: BrokerProcess, message: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const found = logEntries(broker).find((line) => line.msg === message);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`the broker did not log "${message}" in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-partitions-'));
  let broker: BrokerProcess | undefined;
  try {
    progress('loopback baseline…');
    const loopback = await loopbackMBps(1024 ** 3);
    broker = await launchBroker(dataDirectory, options);
    const admin = connect(broker);
    for (const [name, partitions] of [['one', 1], ['hundred', 100]] as const) {
      await admin.request<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name, partitions, configs: {} }] });
    }
    admin.close();
    progress(`creating ${wide} partitions…`);
    const create = await createWhilePinging(broker, wide);
    const idle = await resources(broker);
    progress(`created in ${round(create.seconds)} s, event-loop lag max ${round(create.lagMaxMs)} ms, slowest ping ${round(create.slowestPingMs)} ms; idle: ${JSON.stringify(idle)}`);
    progress('producing…');
    const rates: Array<[string, number]> = [];
    let firstTouchSeconds = 0;
    for (const [topic, partitions] of [['one', 1], ['hundred', 100], ['wide', wide]] as const) {
      // One pass over every partition first: its first append maps and extends its segment.
      const started = performance.now();
      await produceRate(broker, topic, partitions, Math.max(5000, partitions * 100));
      if (topic === 'wide') firstTouchSeconds = (performance.now() - started) / 1000;
      rates.push([`${partitions} partitions`, await produceRate(broker, topic, partitions, recordsPerRun)]);
    }
    progress('clean stop and start…');
    const cleanStopSeconds = await stop(broker, 'SIGTERM');
    const clean = await timedStart(dataDirectory);
    broker = clean.broker;
    progress('touching every partition, kill -9 and start…');
    // Every partition written since the start, so none has its clean marker any more.
    await produceRate(broker, 'wide', wide, wide * 100);
    await stop(broker, 'SIGKILL');
    const killed = await timedStart(dataDirectory);
    broker = killed.broker;
    const recovered = await logLine(broker, 'partitions left unclean by the last stop recovered');
    const result = {
      partitions: wide,
      createSeconds: round(create.seconds),
      createEventLoopLagMaxMs: round(create.lagMaxMs),
      createSlowestPingMs: round(create.slowestPingMs),
      idleOpenDescriptors: idle.openDescriptors,
      idleMappings: idle.mappings,
      idleDescriptorsPerPartition: round(idle.openDescriptors / idle.partitions.open, 3),
      idleMappingsPerPartition: round(idle.mappings / idle.partitions.open, 3),
      produceRecordsPerSecond: Object.fromEntries(rates.map(([label, rate]) => [label, Math.round(rate)])),
      cleanStopSeconds: round(cleanStopSeconds),
      restartAfterCleanStopSeconds: round(clean.seconds),
      restartAfterCleanStopOpened: clean.opened,
      restartAfterKillSeconds: round(killed.seconds),
      restartAfterKillOpened: killed.opened,
      recoveryAfterKill: recovered,
      firstTouchOfEveryPartitionSeconds: round(firstTouchSeconds),
      loopbackMBps: round(loopback),
      produce100ByteRecordsMBpsVsLoopback: Object.fromEntries(rates.map(([label, rate]) => [label, round((rate * 100) / 1024 ** 2 / loopback, 3)])),
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(JSON.stringify(result, null, 2));
      console.log(barChart('produce records/s (100-byte records, batches of 100)', rates));
    }
  } finally {
    if (broker !== undefined) await stop(broker, 'SIGKILL');
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
