/**
 * Cluster benchmark: etcd and three brokers as processes on this machine against one broker
 * alone, in one run. Measures, with the client in a child process (bench/e2e-worker.ts):
 *   1. single broker, acks=1 produce throughput — the baseline;
 *   2. three brokers, topics with replication factor 3 and min.insync.replicas 2: acks=all and
 *      acks=1 produce throughput, and their ratio to 1;
 *   3. p50/p99/p99.9 of acks=all at a fixed rate (coordinated omission corrected), beside
 *      the single broker's acks=1 at the same rate;
 *   4. failover: the leader of a partition SIGKILLed while an acks=all producer runs, time
 *      until a produce sent after the kill is acknowledged (median of a few rounds);
 *   5. catch-up: one follower stopped, N bytes produced, the follower started again, time
 *      until its log end equals the leader's and it is back in the ISR of every partition.
 * Baselines from the same run: loopback socket and raw file write throughput.
 *
 *   npm run bench:cluster -- [--json] [--records N] [--catch-up-bytes N] [--failovers N]
 *                            [--latency-seconds N] [--rate N] [--session-timeout-ms N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Admin } from '../client/admin.js';
import { Sluice } from '../client/sluice.js';
import { SluiceError } from '../proto/errors.js';
import { type BrokerProcess, launchBroker } from './broker-process.js';
import { type ProcessCluster, startProcessCluster } from './cluster-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';
import { killWorkers, runWorker } from './run-worker.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    records: { type: 'string', default: '2000000' },
    'latency-seconds': { type: 'string', default: '5' },
    rate: { type: 'string' },
    failovers: { type: 'string', default: '3' },
    'catch-up-bytes': { type: 'string', default: String(1024 ** 3) },
    'session-timeout-ms': { type: 'string', default: '2000' },
  },
});
const records = Number(values.records);
const catchUpBytes = Number(values['catch-up-bytes']);
const failoverRounds = Number(values.failovers);
const sessionTimeoutMs = Number(values['session-timeout-ms']);
const partitions = 6;
const replicated = { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } };
/** Records of the catch-up data: large, so producing 1 GiB takes seconds, not minutes. */
const catchUpValueBytes = 16 * 1024;
const progress = (text: string) => process.stderr.write(`${text}\n`);
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;

/**
 * A create the controller could not write to etcd in time (a retriable METADATA_STORE, seen on a
 * loaded machine) is tried again; TOPIC_ALREADY_EXISTS after such a try means that try did write it,
 * since nothing else creates topics in this bench's own cluster.
 */
async function createRetrying(admin: Admin, topic: string, options: Parameters<Admin['createTopic']>[1]): Promise<void> {
  const deadline = Date.now() + 30_000;
  let retried = false;
  for (;;) {
    try {
      await admin.createTopic(topic, options);
      return;
    } catch (error) {
      if (retried && SluiceError.is(error) && error.code === 'SLUICE_ERR_TOPIC_ALREADY_EXISTS') return;
      if (!SluiceError.is(error) || !error.retriable || Date.now() > deadline) throw error;
      retried = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

interface Throughput { records: number; seconds: number; recordsPerSec: number; mbps: number }
interface Latency { rate: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number }
interface TopicPartitionState { partition: number; leader: number; isr: number[]; logEndOffset: number; recordBytes: number }

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function waitForFullIsr(admin: Admin, topic: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(`every replica of ${topic} in sync`, async () => {
    const description = await admin.describeTopic(topic);
    return description.partitions.every((partition) => partition.leader >= 0 && partition.isr.length === partition.replicas.length);
  }, timeoutMs, 100);
}

/** A broker's own view of its replicas of a topic (GET /v1/topics/:name). */
async function brokerTopic(httpPort: number, topic: string): Promise<TopicPartitionState[]> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/topics/${topic}`, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`GET /v1/topics/${topic} answered ${response.status}`);
  return ((await response.json()) as { partitions: TopicPartitionState[] }).partitions;
}

/** Sequential fs.writeSync of 1 MiB chunks to a fresh file, best of two rounds (the first touch of fresh memory on this VM is slow). */
function rawWriteMBps(directory: string, totalBytes = 256 * 1024 ** 2): number {
  const chunk = Buffer.alloc(1024 ** 2, 7);
  const rounds: number[] = [];
  for (let round = 0; round < 2; round += 1) {
    const file = path.join(directory, `raw-${round}`);
    const fd = fs.openSync(file, 'w');
    const started = process.hrtime.bigint();
    for (let written = 0; written < totalBytes; written += chunk.length) fs.writeSync(fd, chunk);
    rounds.push(totalBytes / 1024 ** 2 / (Number(process.hrtime.bigint() - started) / 1e9));
    fs.closeSync(fd);
    fs.rmSync(file);
  }
  return Math.max(...rounds);
}

/**
 * Kills the leader of partition 0 of `topic` while acks=all sends to it go out every 2 ms, and
 * returns the time from the kill to the first acknowledgement of a send made after it. The
 * killed broker comes back and every replica catches up before the next round.
 */
async function failover(cluster: ProcessCluster, admin: Admin, topic: string, rounds: number): Promise<Array<{ victim: number; ms: number }>> {
  const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
  const producer = sluice.producer({ acks: 'all', lingerMs: 0, retryBackoffMs: 20, retryBackoffMaxMs: 100, deliveryTimeoutMs: 60_000 });
  let round: { killedAt: number; ms?: number } | undefined;
  let running = true;
  const inflight = new Set<Promise<void>>();
  const pump = (async () => {
    while (running) {
      const sentAt = Date.now();
      const sending = producer.send({ topic, messages: [{ value: 'probe', partition: 0 }] }).then(() => {
        if (round !== undefined && round.ms === undefined && sentAt >= round.killedAt) round.ms = Date.now() - round.killedAt;
      }, () => {});
      inflight.add(sending);
      void sending.finally(() => inflight.delete(sending));
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (inflight.size >= 5000) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  })();
  const results: Array<{ victim: number; ms: number }> = [];
  try {
    for (let index = 0; index < rounds; index += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const victim = (await admin.describeTopic(topic)).partitions[0]!.leader;
      const current: { killedAt: number; ms?: number } = { killedAt: Date.now() };
      round = current;
      await cluster.kill(victim);
      await waitUntil(`an acks=all produce after killing broker ${victim}`, async () => current.ms !== undefined, 60_000, 10);
      results.push({ victim, ms: current.ms! });
      progress(`  round ${index + 1}: leader ${victim} killed, acks=all produce acknowledged after ${current.ms} ms`);
      await cluster.start(victim);
      for (const name of await admin.listTopics()) await waitForFullIsr(admin, name);
    }
  } finally {
    running = false;
    await pump;
    await producer.close();
    await sluice.close();
  }
  return results;
}

/**
 * Stops a follower (not the controller), produces `bytes` of acks=1 records to `topic` without
 * it, starts it again and times its catch-up: until its log end offset equals the leader's on
 * every partition (caughtUpMs) and until every leader has it back in the ISR (isrMs).
 */
async function catchUp(cluster: ProcessCluster, admin: Admin, topic: string, bytes: number) {
  const controller = (await admin.describeCluster()).controllerId;
  const victim = cluster.brokers.map((broker) => broker.nodeId).find((nodeId) => nodeId !== controller)!;
  await cluster.stop(victim);
  const count = Math.ceil(bytes / catchUpValueBytes);
  progress(`  broker ${victim} stopped; producing ${(count * catchUpValueBytes / 1024 ** 2).toFixed(0)} MiB (${count.toLocaleString('en-US')} records of ${catchUpValueBytes} bytes, acks=1) ...`);
  const produced = await runWorker<Throughput>(['produce', cluster.bootstrap, topic, String(count), 'none', '--acks', '1', '--value-bytes', String(catchUpValueBytes)]);
  progress(`  ${produced.mbps.toFixed(0)} MB/s with two of three replicas`);
  const description = await admin.describeTopic(topic);
  const leaderStates = new Map<number, TopicPartitionState>();
  for (const leader of new Set(description.partitions.map((partition) => partition.leader))) {
    for (const state of await brokerTopic(cluster.httpPort(leader), topic)) if (state.leader === leader) leaderStates.set(state.partition, state);
  }
  const missedBytes = [...leaderStates.values()].reduce((total, state) => total + state.recordBytes, 0);
  const started = performance.now();
  await cluster.start(victim);
  const readyMs = performance.now() - started;
  const httpPort = cluster.httpPort(victim);
  await waitUntil(`broker ${victim} caught up on ${topic}`, async () => {
    const own = await brokerTopic(httpPort, topic);
    return own.length === partitions && own.every((state) => state.logEndOffset >= leaderStates.get(state.partition)!.logEndOffset);
  }, 300_000);
  const caughtUpMs = performance.now() - started;
  await waitUntil(`broker ${victim} back in the ISR of ${topic}`, async () => {
    for (const leader of new Set([...leaderStates.values()].map((state) => state.leader))) {
      const states = await brokerTopic(cluster.httpPort(leader), topic);
      if (states.some((state) => state.leader === leader && !state.isr.includes(victim))) return false;
    }
    return true;
  }, 120_000);
  const isrMs = performance.now() - started;
  return { victim, missedBytes, produceMBps: produced.mbps, readyMs, caughtUpMs, isrMs, mbps: missedBytes / 1024 ** 2 / (caughtUpMs / 1000), afterReadyMBps: missedBytes / 1024 ** 2 / ((caughtUpMs - readyMs) / 1000) };
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[(sorted.length - 1) >> 1]!;
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-cluster-single-'));
  // Promises, so stopping also finds a broker or cluster that was still starting.
  let singleStart: Promise<BrokerProcess> | undefined;
  let clusterStart: Promise<ProcessCluster> | undefined;
  const clients = new Set<Sluice>();
  const stopAll = async () => {
    killWorkers();
    const closing = [...clients];
    clients.clear();
    await Promise.all(closing.map(async (client) => await client.close().catch(() => {})));
    await (await singleStart?.catch(() => undefined))?.stop('SIGKILL');
    await (await clusterStart?.catch(() => undefined))?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  const interrupted = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    progress(`cluster bench: ${records.toLocaleString('en-US')} records of 100 bytes, ${partitions} partitions; cluster topics replication factor 3, min.insync.replicas 2; broker.session.timeout.ms ${sessionTimeoutMs}`);
    singleStart = launchBroker(path.join(scratch, 'broker'));
    const single = await singleStart;
    const alone = new Sluice({ bootstrap: single.bootstrap });
    clients.add(alone);
    for (const topic of ['plain', 'latency']) await alone.admin().createTopic(topic, { partitions });
    progress('1. single broker, acks=1 ...');
    const singleAcks1 = await runWorker<Throughput>(['produce', single.bootstrap, 'plain', String(records), 'none', '--acks', '1']);
    progress(`  ${Math.round(singleAcks1.recordsPerSec).toLocaleString('en-US')} records/s`);

    clusterStart = startProcessCluster({
      brokers: 3,
      // Few offsets partitions: this bench has no groups, and 50 would only slow the start.
      args: ['--broker-session-timeout-ms', String(sessionTimeoutMs), '--offsets-topic-num-partitions', '3'],
    });
    const cluster = await clusterStart;
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    clients.add(sluice);
    const admin = sluice.admin();
    for (const topic of ['all', 'one', 'latency', 'catchup']) {
      await createRetrying(admin, topic, replicated);
      await waitForFullIsr(admin, topic);
    }
    await createRetrying(admin, 'failover', { ...replicated, partitions: 1 });
    await waitForFullIsr(admin, 'failover');
    progress(`2. three brokers (${cluster.bootstrap}), acks=all ...`);
    const clusterAll = await runWorker<Throughput>(['produce', cluster.bootstrap, 'all', String(records), 'none', '--acks', 'all']);
    progress(`  ${Math.round(clusterAll.recordsPerSec).toLocaleString('en-US')} records/s`);
    progress('   three brokers, acks=1 ...');
    const clusterOne = await runWorker<Throughput>(['produce', cluster.bootstrap, 'one', String(records), 'none', '--acks', '1']);
    progress(`  ${Math.round(clusterOne.recordsPerSec).toLocaleString('en-US')} records/s`);

    const rate = values.rate === undefined ? Math.round(clusterAll.recordsPerSec * 0.2) : Number(values.rate);
    const latencyRecords = String(Math.round(rate * Number(values['latency-seconds'])));
    progress(`3. acks=all latency at ${rate.toLocaleString('en-US')} records/s ...`);
    const latencyAll = await runWorker<Latency>(['produce', cluster.bootstrap, 'latency', latencyRecords, 'none', String(rate), '--acks', 'all']);
    progress(`  p50 ${latencyAll.p50Ms} ms, p99 ${latencyAll.p99Ms} ms, p99.9 ${latencyAll.p999Ms} ms`);

    progress(`4. failover (${failoverRounds} rounds) ...`);
    const failovers = await failover(cluster, admin, 'failover', failoverRounds);
    progress(`5. catch-up of a follower that missed ${(catchUpBytes / 1024 ** 2).toFixed(0)} MiB ...`);
    const catchup = await catchUp(cluster, admin, 'catchup', catchUpBytes);
    progress(`  broker ${catchup.victim}: caught up in ${(catchup.caughtUpMs / 1000).toFixed(1)} s (${catchup.mbps.toFixed(0)} MB/s), in the ISR after ${(catchup.isrMs / 1000).toFixed(1)} s`);
    clients.delete(sluice);
    await sluice.close();
    await cluster.close();

    progress(`   single broker, acks=1 latency at ${rate.toLocaleString('en-US')} records/s ...`);
    const latencyOne = await runWorker<Latency>(['produce', single.bootstrap, 'latency', latencyRecords, 'none', String(rate), '--acks', '1']);
    progress('baselines: loopback socket, raw file write ...');
    const loopback = await loopbackMBps();
    const rawWrite = rawWriteMBps(scratch);

    const failoverMs = failovers.map((entry) => entry.ms);
    const result = {
      date: new Date().toISOString(),
      machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
      records, recordBytes: 100, partitions, replicationFactor: 3, minInsyncReplicas: 2, sessionTimeoutMs,
      singleAcks1RecordsPerSec: Math.round(singleAcks1.recordsPerSec),
      clusterAcksAllRecordsPerSec: Math.round(clusterAll.recordsPerSec),
      clusterAcks1RecordsPerSec: Math.round(clusterOne.recordsPerSec),
      acksAllVsSingle: round(clusterAll.recordsPerSec / singleAcks1.recordsPerSec, 3),
      clusterAcks1VsSingle: round(clusterOne.recordsPerSec / singleAcks1.recordsPerSec, 3),
      singleAcks1MBps: round(singleAcks1.mbps),
      clusterAcksAllMBps: round(clusterAll.mbps),
      latencyRate: rate,
      acksAllP50Ms: latencyAll.p50Ms, acksAllP99Ms: latencyAll.p99Ms, acksAllP999Ms: latencyAll.p999Ms, acksAllMaxMs: latencyAll.maxMs,
      singleAcks1P50Ms: latencyOne.p50Ms, singleAcks1P99Ms: latencyOne.p99Ms, singleAcks1P999Ms: latencyOne.p999Ms,
      failoverMs, failoverVictims: failovers.map((entry) => entry.victim), failoverMedianMs: median(failoverMs),
      catchUpBytes: catchup.missedBytes,
      catchUpProduceMBps: round(catchup.produceMBps),
      catchUpReadyMs: Math.round(catchup.readyMs),
      catchUpMs: Math.round(catchup.caughtUpMs),
      catchUpIsrMs: Math.round(catchup.isrMs),
      catchUpMBps: round(catchup.mbps),
      catchUpAfterReadyMBps: round(catchup.afterReadyMBps),
      loopbackMBps: round(loopback),
      rawWriteMBps: round(rawWrite),
      catchUpVsLoopback: round(catchup.mbps / loopback, 3),
      catchUpVsRawWrite: round(catchup.mbps / rawWrite, 3),
      acksAllVsLoopback: round(clusterAll.mbps / loopback, 3),
    };
    progress('');
    progress(barChart('produce records/s (100-byte records; every process shares 2 cores)', [
      ['1 broker, acks=1', result.singleAcks1RecordsPerSec],
      ['3 brokers, acks=1', result.clusterAcks1RecordsPerSec],
      ['3 brokers, acks=all', result.clusterAcksAllRecordsPerSec],
    ]));
    progress(`acks=all / single acks=1: ${result.acksAllVsSingle}; cluster acks=1 / single acks=1: ${result.clusterAcks1VsSingle}`);
    progress(barChart(`latency ms at ${rate.toLocaleString('en-US')} records/s`, [
      ['1 broker acks=1 p50', result.singleAcks1P50Ms],
      ['1 broker acks=1 p99', result.singleAcks1P99Ms],
      ['3 brokers acks=all p50', result.acksAllP50Ms],
      ['3 brokers acks=all p99', result.acksAllP99Ms],
      ['3 brokers acks=all p99.9', result.acksAllP999Ms],
    ]));
    progress(barChart('MB/s vs the machine\'s baselines', [
      ['produce acks=all', result.clusterAcksAllMBps],
      ['follower catch-up', result.catchUpMBps],
      ['raw file write', result.rawWriteMBps],
      ['loopback socket', result.loopbackMBps],
    ]));
    progress(`failover (leader SIGKILL → acks=all produce acknowledged): ${failoverMs.join(', ')} ms, median ${result.failoverMedianMs} ms`);
    progress(`catch-up of ${(result.catchUpBytes / 1024 ** 2).toFixed(0)} MiB: log end reached after ${(result.catchUpMs / 1000).toFixed(1)} s (${result.catchUpMBps} MB/s; broker ready after ${(result.catchUpReadyMs / 1000).toFixed(1)} s, ${result.catchUpAfterReadyMBps} MB/s from then), back in the ISR after ${(result.catchUpIsrMs / 1000).toFixed(1)} s`);
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await stopAll();
  }
}

await main();
