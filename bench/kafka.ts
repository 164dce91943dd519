/**
 * Kafka listener benchmark: one broker process, and the same client-side volume — N records of
 * 100 bytes, null keys, 6 partitions, acks=1 — produced and then consumed by three clients in
 * turn, each in a process of its own, in one run:
 *   - Sluice's own client on the native listener (bench/e2e-worker.ts, as bench:e2e runs it);
 *   - KafkaJS 2.2.4 on the Kafka listener (bench/kafka-worker.ts; its consumer is a group member);
 *   - librdkafka 2.0.2 on the Kafka listener: `kcat -P` of a file of N lines, and
 *     `kcat -C -o beginning -c N -e` into a file (kcat's times include its start and metadata).
 * For every phase: records/s and MB/s as the client saw them, and the broker's CPU time per
 * record (user + system, from /proc/PID/stat before and after), and how many Produce or Fetch
 * requests it answered (its /metrics), to tell per-request from per-record cost. Before the first phase, an
 * unmeasured warm-up sends records/5 (at most 200,000) through each listener. Baseline from the same run:
 * Node-to-Node loopback socket throughput. Each figure's ratio to Sluice's own client.
 *
 *   npm run bench:kafka -- [--json] [--records N]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';
import { packageRoot } from '../proto/package-root.js';
import { type BrokerProcess, launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { clockTicks, cpuSeconds } from './process-cpu.js';
import { barChart } from './report.js';
import { killWorkers, runWorker } from './run-worker.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    records: { type: 'string', default: '2000000' },
  },
});
const records = Number(values.records);
if (!Number.isInteger(records) || records < 1) throw new Error(`--records must be a whole number above 0, not ${values.records}`);
const partitions = 6;
const valueBytes = 100;
const progress = (text: string) => process.stderr.write(`${text}\n`);
const kafkaWorker = path.join(packageRoot(import.meta.url), 'dist', 'bench', 'kafka-worker.js');
interface Throughput { records: number; seconds: number; recordsPerSec: number; mbps: number }
interface Phase extends Throughput { brokerCpuSeconds: number; brokerCpuUsPerRecord: number; requests: number }

/** How many requests of each API the broker has answered (the count of its request duration histogram, from /metrics). */
async function requestCounts(httpPort: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const counts = new Map<string, number>();
  for (const match of (await response.text()).matchAll(/^sluice_request_duration_seconds_count\{api="([^"]+)"\} (\d+)$/gm)) counts.set(match[1]!, Number(match[2]));
  return counts;
}

const children = new Set<ReturnType<typeof spawn>>();

/** Runs a program to its end (killed after `timeoutMs`), stdin and stdout from/to files if given; its wall time in seconds. */
function run(program: string, args: string[], io: { stdin?: string; stdout?: string } = {}, timeoutMs = 600_000): Promise<{ seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const stdin = io.stdin === undefined ? 'ignore' : fs.openSync(io.stdin, 'r');
    const stdout = io.stdout === undefined ? 'pipe' : fs.openSync(io.stdout, 'w');
    const started = process.hrtime.bigint();
    const child = spawn(program, args, { stdio: [stdin, stdout, 'pipe'] });
    children.add(child);
    for (const fd of [stdin, stdout]) if (typeof fd === 'number') fs.closeSync(fd);
    let output = '';
    let errors = '';
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      clearTimeout(timer);
      children.delete(child);
      if (code !== 0) reject(new Error(`${program} ${args.join(' ')} exited ${code ?? signal}: ${errors}`));
      else resolve({ seconds, stdout: output });
    });
  });
}

/** The last JSON line a worker printed. */
function lastLine<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

function throughput(count: number, seconds: number): Throughput {
  return { records: count, seconds, recordsPerSec: count / seconds, mbps: (count * valueBytes) / 1024 ** 2 / seconds };
}

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-kafka-'));
  let brokerStart: Promise<BrokerProcess> | undefined;
  let sluice: Sluice | undefined;
  const stopAll = async () => {
    killWorkers();
    for (const child of children) child.kill('SIGKILL');
    await sluice?.close().catch(() => {});
    await (await brokerStart?.catch(() => undefined))?.stop('SIGKILL');
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  const interrupted = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // A group's first join waits for more members (3 s by default): the KafkaJS consumer is alone.
    brokerStart = launchBroker(path.join(scratch, 'broker'), { args: ['--group-initial-rebalance-delay-ms', '1'] });
    const broker = await brokerStart;
    const pid = broker.child.pid!;
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    const admin = sluice.admin();
    for (const topic of ['warmup', 'sluice', 'kafkajs', 'kcat']) await admin.createTopic(topic, { partitions });
    progress(`kafka bench: broker pid ${pid}, native ${broker.bootstrap}, Kafka ${broker.kafkaBootstrap}; ${records.toLocaleString('en-US')} records of ${valueBytes} bytes, null keys, ${partitions} partitions, acks=1`);

    // Unmeasured: both listeners' produce paths run before the first measured phase, so it does not pay alone for a cold broker.
    const warmup = Math.min(200_000, Math.max(1000, Math.round(records / 5)));
    const lines = path.join(scratch, 'lines');
    fs.writeFileSync(lines, `${'x'.repeat(valueBytes)}\n`.repeat(warmup));
    progress(`warm-up: ${warmup.toLocaleString('en-US')} records through each listener ...`);
    await runWorker<Throughput>(['produce', broker.bootstrap, 'warmup', String(warmup), 'none', '--acks', '1']);
    await run('kcat', ['-b', broker.kafkaBootstrap, '-P', '-t', 'warmup', '-X', 'acks=1'], { stdin: lines });

    /**
     * Runs one phase, with the broker's CPU time and its count of Produce or Fetch requests (of the
     * listener the client uses) around it; a produce phase is checked against the topic's log ends.
     */
    const phase = async (label: string, topic: string, direction: 'produce' | 'consume', body: () => Promise<Throughput>): Promise<Phase> => {
      progress(`${label} ...`);
      const api = `${topic === 'sluice' ? '' : 'kafka.'}${direction === 'produce' ? 'Produce' : 'Fetch'}`;
      const countsBefore = await requestCounts(broker.httpPort);
      const before = cpuSeconds(pid);
      const measured = await body();
      const brokerCpuSeconds = cpuSeconds(pid) - before;
      // The phase's other requests too (group membership, commits, metadata): they cost the broker CPU as well.
      const others: string[] = [];
      let requests = 0;
      for (const [name, count] of await requestCounts(broker.httpPort)) {
        const made = count - (countsBefore.get(name) ?? 0);
        if (name === api) requests = made;
        else if (made > 0) others.push(`${made.toLocaleString('en-US')} ${name}`);
      }
      if (direction === 'produce') {
        const stored = (await admin.describeTopic(topic)).partitions.reduce((sum, partition) => sum + partition.logEndOffset, 0);
        if (stored !== records) throw new Error(`${label}: the broker holds ${stored} records of ${topic}, not ${records}`);
      } else if (measured.records !== records) {
        throw new Error(`${label}: read ${measured.records} records, not ${records}`);
      }
      const result = { ...measured, brokerCpuSeconds, brokerCpuUsPerRecord: (brokerCpuSeconds * 1e6) / records, requests };
      progress(`  ${Math.round(result.recordsPerSec).toLocaleString('en-US')} records/s, broker CPU ${result.brokerCpuUsPerRecord.toFixed(2)} µs/record, ${requests.toLocaleString('en-US')} ${api} requests${others.length > 0 ? ` (and ${others.join(', ')})` : ''}`);
      return result;
    };

    const sluiceProduce = await phase('Sluice client, produce (native listener)', 'sluice', 'produce',
      () => runWorker<Throughput>(['produce', broker.bootstrap, 'sluice', String(records), 'none', '--acks', '1']));
    const sluiceConsume = await phase('Sluice client, consume', 'sluice', 'consume',
      () => runWorker<Throughput>(['consume', broker.bootstrap, 'sluice', String(records), String(partitions)]));

    const kafkajsProduce = await phase('KafkaJS, produce (Kafka listener)', 'kafkajs', 'produce',
      async () => lastLine<Throughput>((await run(process.execPath, [kafkaWorker, 'produce', broker.kafkaBootstrap, 'kafkajs', String(records)])).stdout));
    const kafkajsConsume = await phase('KafkaJS, consume (group member)', 'kafkajs', 'consume',
      async () => lastLine<Throughput>((await run(process.execPath, [kafkaWorker, 'consume', broker.kafkaBootstrap, 'kafkajs', String(records)])).stdout));

    fs.writeFileSync(lines, `${'x'.repeat(valueBytes)}\n`.repeat(records));
    const kcatProduce = await phase('kcat (librdkafka), produce: -P of a file of lines', 'kcat', 'produce', async () => {
      const { seconds } = await run('kcat', ['-b', broker.kafkaBootstrap, '-P', '-t', 'kcat', '-X', 'acks=1'], { stdin: lines });
      return throughput(records, seconds);
    });
    fs.rmSync(lines);
    const consumed = path.join(scratch, 'consumed');
    const kcatConsume = await phase('kcat (librdkafka), consume: -C -o beginning -c N -e', 'kcat', 'consume', async () => {
      // -c: done at the N-th record, as the other consumers are, not after a last empty long poll per partition (-e alone).
      const { seconds } = await run('kcat', ['-b', broker.kafkaBootstrap, '-C', '-t', 'kcat', '-o', 'beginning', '-c', String(records), '-e', '-q'], { stdout: consumed });
      // One line per record: the value and a newline.
      return throughput(fs.statSync(consumed).size / (valueBytes + 1), seconds);
    });
    fs.rmSync(consumed);

    await sluice.close();
    sluice = undefined;
    await broker.stop();
    progress('baseline: loopback socket ...');
    const loopback = await loopbackMBps();

    const phases = { sluiceProduce, sluiceConsume, kafkajsProduce, kafkajsConsume, kcatProduce, kcatConsume };
    const figures: Record<string, number> = {};
    for (const [name, measured] of Object.entries(phases)) {
      const base = name.endsWith('Produce') ? sluiceProduce : sluiceConsume;
      figures[`${name}RecordsPerSec`] = Math.round(measured.recordsPerSec);
      figures[`${name}MBps`] = round(measured.mbps);
      figures[`${name}Seconds`] = round(measured.seconds, 3);
      figures[`${name}BrokerCpuUsPerRecord`] = round(measured.brokerCpuUsPerRecord, 3);
      figures[`${name}Requests`] = measured.requests;
      figures[`${name}RecordsPerRequest`] = Math.round(records / measured.requests);
      figures[`${name}VsSluice`] = round(measured.recordsPerSec / base.recordsPerSec, 3);
      figures[`${name}BrokerCpuVsSluice`] = round(measured.brokerCpuUsPerRecord / base.brokerCpuUsPerRecord, 3);
      figures[`${name}VsLoopback`] = round(measured.mbps / loopback, 4);
    }
    const result = {
      date: new Date().toISOString(),
      machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
      records, recordBytes: valueBytes, partitions, acks: 1, clockTicksPerSec: clockTicks,
      ...figures,
      loopbackMBps: round(loopback),
    };
    const rows = (suffix: string): Array<[string, number]> => [
      ['Sluice client, produce', figures[`sluiceProduce${suffix}`]!],
      ['KafkaJS, produce', figures[`kafkajsProduce${suffix}`]!],
      ['kcat, produce', figures[`kcatProduce${suffix}`]!],
      ['Sluice client, consume', figures[`sluiceConsume${suffix}`]!],
      ['KafkaJS, consume', figures[`kafkajsConsume${suffix}`]!],
      ['kcat, consume', figures[`kcatConsume${suffix}`]!],
    ];
    progress('');
    progress(barChart('records/s (broker and client processes sharing the machine)', rows('RecordsPerSec')));
    progress(barChart('broker CPU µs per record (native listener: Sluice client; Kafka listener: KafkaJS, kcat)', rows('BrokerCpuUsPerRecord')));
    progress(barChart('MB/s of record values vs the loopback baseline', [...rows('MBps'), ['loopback socket', result.loopbackMBps]]));
    progress('ratios to Sluice\'s own client (records/s; broker CPU per record):');
    for (const name of ['kafkajsProduce', 'kcatProduce', 'kafkajsConsume', 'kcatConsume']) {
      progress(`  ${name.padEnd(15)} ${String(figures[`${name}VsSluice`]).padStart(6)}×  ${String(figures[`${name}BrokerCpuVsSluice`]).padStart(6)}×`);
    }
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await stopAll();
  }
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

await main();
