/**
 * The `sluice bench` coordinator: prepares the broker and topic, forks one worker process per
 * producer and consumer, merges their per-second figures and HDR histograms, reports progress,
 * and ends with a result, also when a worker fails or the load stalls (then the result is
 * marked partial and carries the error).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import hdr from 'hdr-histogram-js';
import { packageRoot } from '../../proto/package-root.js';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, launchBroker } from '../broker-process.js';
import type { WorkerMessage, WorkerTask } from './messages.js';
import type { Progress } from './progress.js';
import type { BenchConfig, BenchResult, LatencySummary, SecondSample } from './result.js';
import { type AckLog, type ProducerAcks, verifyTopic } from '../verify.js';

const workerPath = path.join(packageRoot(import.meta.url), 'dist', 'bench', 'load', 'worker.js');
const histogramOptions = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 } as const;
/** A run with no progress for this long is stopped: the broker or a worker is stuck. */
const stallMs = 15_000;

interface Worker {
  child: ChildProcess;
  task: WorkerTask;
  started: boolean;
  ready: boolean;
  done: boolean;
  totalRecords: number;
}

function summarize(histogram: hdr.Histogram): LatencySummary {
  const ms = (micros: number) => Number((micros / 1000).toFixed(3));
  return {
    count: histogram.totalCount,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  };
}

/** Splits `total` into `parts` near-equal whole shares. */
function share(total: number, parts: number, index: number): number {
  if (!Number.isFinite(total)) return Infinity;
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

async function prepareTopic(config: BenchConfig, bootstrap: string): Promise<{ partitions: number; available: number[] }> {
  const sluice = new Sluice({ bootstrap, connectTimeoutMs: 5000 });
  try {
    const admin = sluice.admin();
    if (!(await admin.listTopics()).includes(config.topic)) {
      await admin.createTopic(config.topic, {
        partitions: config.partitions,
        ...(config.replicationFactor === undefined ? {} : { replicationFactor: config.replicationFactor }),
        ...(config.topicConfigs === undefined ? {} : { configs: config.topicConfigs }),
      });
    }
    const description = await admin.describeTopic(config.topic);
    return {
      partitions: description.partitions.length,
      available: description.partitions.map((partition) => partition.logEndOffset - partition.logStartOffset),
    };
  } finally {
    await sluice.close();
  }
}

function baseTask(config: BenchConfig, bootstrap: string): Omit<WorkerTask, 'role' | 'index' | 'records' | 'partitions' | 'measureLatency'> {
  return {
    bootstrap, topic: config.topic, recordBytes: config.recordBytes, keys: config.keys, acks: config.acks, compression: config.compression,
    batchSize: config.batchSize, lingerMs: config.lingerMs,
    ...(config.durationS === undefined ? {} : { durationMs: config.durationS * 1000 }),
    ...(config.idempotent === undefined ? {} : { idempotent: config.idempotent }),
  };
}

function tasksFor(config: BenchConfig, bootstrap: string, partitions: number, available: number[]): WorkerTask[] {
  const base = baseTask(config, bootstrap);
  const records = config.records ?? Infinity;
  const tasks: WorkerTask[] = [];
  if (config.mode !== 'consume') {
    for (let index = 0; index < config.producers; index += 1) {
      tasks.push({
        ...base, role: 'producer', index, records: share(records, config.producers, index), partitions: [], measureLatency: false,
        ...(config.rate === undefined ? {} : { rate: share(config.rate, config.producers, index) }),
        // Producers sharing one transactional id would fence each other: each gets its own.
        ...(config.transactionalId === undefined ? {} : {
          transaction: { transactionalId: config.producers === 1 ? config.transactionalId : `${config.transactionalId}-${index}`, recordsPerTxn: config.recordsPerTxn ?? 100 },
        }),
      });
    }
  }
  if (config.mode !== 'produce') {
    const allAvailable = available.reduce((total, count) => total + count, 0);
    for (let index = 0; index < config.consumers; index += 1) {
      const mine = Array.from({ length: partitions }, (_, partition) => partition).filter((partition) => partition % config.consumers === index);
      const inMine = mine.reduce((total, partition) => total + (available[partition] ?? 0), 0);
      // A consume run reads what its partitions hold, scaled down when --records asks for less.
      const wanted = config.mode === 'e2e' ? Infinity
        : Number.isFinite(records) && records < allAvailable ? Math.round((records * inMine) / allAvailable) : inMine;
      const task: WorkerTask = { ...base, role: 'consumer', index, records: wanted, partitions: mine, measureLatency: config.mode === 'e2e' };
      // e2e consumers read until every produced record arrived; the coordinator ends them.
      if (config.mode === 'e2e') delete task.durationMs;
      tasks.push(task);
    }
  }
  return tasks;
}

export async function runBench(config: BenchConfig, progress: Progress): Promise<BenchResult> {
  let broker: BrokerProcess | undefined;
  let dataDirectory: string | undefined;
  if (config.embedded) {
    dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
    broker = await launchBroker(dataDirectory);
    progress.note(`embedded broker on ${broker.bootstrap} (data in ${dataDirectory})`);
  }
  const bootstrap = broker?.bootstrap ?? config.bootstrap;
  const started = new Date();
  try {
    if (config.mode === 'consume' && config.embedded) await fillForConsume(config, bootstrap, progress);
    const { partitions, available } = await prepareTopic(config, bootstrap);
    const tasks = tasksFor(config, bootstrap, partitions, available);
    const verifying = config.verify === true && config.mode === 'produce' ? prepareVerify(tasks, partitions) : undefined;
    const outcome = await drive(config, tasks, progress, broker);
    const result: BenchResult = { ...outcome, config: { ...config, bootstrap }, partitions, startedAt: started.toISOString(), environment: environment() };
    if (verifying !== undefined) {
      progress.note(`reading ${config.topic} back to verify it`);
      Object.assign(result, await finishVerify(config, bootstrap, verifying, outcome.failedRecords ?? 0));
    }
    return result;
  } finally {
    await broker?.stop();
    if (dataDirectory !== undefined) fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

/** Gives every producer of a verify run its id and a file for its acknowledged ids. */
function prepareVerify(tasks: WorkerTask[], partitions: number): { runId: string; directory: string } {
  const runId = crypto.randomBytes(6).toString('hex');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-verify-'));
  for (const task of tasks) {
    if (task.role !== 'producer') continue;
    task.verify = { producerId: `${runId}-${task.index}`, partitionCount: partitions, ackFile: path.join(directory, `producer-${task.index}.json`) };
  }
  return { runId, directory };
}

/** Collects what the producers had acknowledged and checks the topic against it. */
async function finishVerify(config: BenchConfig, bootstrap: string, verifying: { runId: string; directory: string }, failedRecords: number): Promise<Partial<BenchResult>> {
  try {
    const producers: ProducerAcks[] = fs.readdirSync(verifying.directory).filter((name) => name.endsWith('.json')).sort()
      .map((name) => JSON.parse(fs.readFileSync(path.join(verifying.directory, name), 'utf8')) as ProducerAcks);
    const acks: AckLog = { runId: verifying.runId, topic: config.topic, producers };
    if (config.acksFile !== undefined) fs.writeFileSync(config.acksFile, `${JSON.stringify(acks)}\n`);
    try {
      return { verify: await verifyTopic(bootstrap, acks), failedRecords };
    } catch (error) {
      return { verifyError: error instanceof Error ? error.message : String(error), failedRecords };
    }
  } finally {
    fs.rmSync(verifying.directory, { recursive: true, force: true });
  }
}

/** An embedded consume run needs data first: produce it, unmeasured. */
async function fillForConsume(config: BenchConfig, bootstrap: string, progress: Progress): Promise<void> {
  const records = config.records ?? 1_000_000;
  progress.note(`filling ${config.topic} with ${records.toLocaleString('en-US')} records before measuring`);
  const { partitions } = await prepareTopic(config, bootstrap);
  const tasks = tasksFor({ ...config, mode: 'produce', records, rate: undefined, durationS: undefined }, bootstrap, partitions, []);
  const outcome = await drive({ ...config, mode: 'produce' }, tasks, progress.silent(), undefined);
  if (outcome.error !== undefined) throw new Error(`filling the topic failed: ${outcome.error}`);
}

function environment(): BenchResult['environment'] {
  return { node: process.version, platform: `${os.type()} ${os.release()}`, cpus: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`, memoryBytes: os.totalmem() };
}

type DriveOutcome = Pick<BenchResult, 'series' | 'latency' | 'totals' | 'error' | 'partial' | 'failedRecords' | 'transactions' | 'transactionsPerSec'>;

/** Runs the workers to the end (or the first failure) and merges what they report. */
function drive(config: BenchConfig, tasks: WorkerTask[], progress: Progress, broker: BrokerProcess | undefined): Promise<DriveOutcome> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    const series: SecondSample[] = [];
    const total = hdr.build(histogramOptions);
    const perSecond: Array<hdr.Histogram | undefined> = [];
    const latencyRole = config.mode === 'e2e' ? 'consumer' : 'producer';
    const countingRole = config.mode === 'consume' ? 'consumer' : config.mode === 'produce' ? 'producer' : 'consumer';
    let counted = 0;
    let bytes = 0;
    let lastProgressAt = performance.now();
    let error: string | undefined;
    let failedRecords: number | undefined;
    let transactions: number | undefined;
    let finished = false;
    const workers: Worker[] = tasks.map((task) => ({ child: fork(workerPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }), task, started: false, ready: false, done: false, totalRecords: 0 }));
    const second = () => Math.floor((performance.now() - startedAt) / 1000);
    const sample = (index: number): SecondSample => {
      while (series.length <= index) series.push({ second: series.length, records: 0, bytes: 0 });
      return series[index]!;
    };
    const finish = (reason?: string) => {
      if (finished) return;
      finished = true;
      error ??= reason;
      clearInterval(ticker);
      for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      for (let index = 0; index < series.length; index += 1) {
        const histogram = perSecond[index];
        if (histogram !== undefined && histogram.totalCount > 0) Object.assign(series[index]!, { p50Ms: histogram.getValueAtPercentile(50) / 1000, p99Ms: histogram.getValueAtPercentile(99) / 1000 });
      }
      const seconds = (performance.now() - startedAt) / 1000;
      resolve({
        series,
        ...(total.totalCount > 0 ? { latency: { ...summarize(total), source: config.mode === 'e2e' ? 'send-to-receive' : 'send-to-ack' } } : {}),
        totals: { records: counted, bytes, seconds, recordsPerSec: counted / seconds, mbps: bytes / 1024 ** 2 / seconds },
        ...(error === undefined ? {} : { error }),
        partial: error !== undefined,
        ...(failedRecords === undefined ? {} : { failedRecords }),
        ...(transactions === undefined ? {} : { transactions, transactionsPerSec: transactions / seconds }),
      });
    };
    const onMessage = (worker: Worker, message: WorkerMessage) => {
      if (message.kind === 'tick') {
        const now = second();
        const histogram = hdr.decodeFromCompressedBase64(message.histogram);
        if (worker.task.role === latencyRole && histogram.totalCount > 0 && now >= config.warmupS) {
          total.add(histogram);
          perSecond[now] ??= hdr.build(histogramOptions);
          perSecond[now]!.add(histogram);
        }
        if (worker.task.role === countingRole) {
          counted += message.records;
          bytes += message.bytes;
          const bucket = sample(now);
          bucket.records += message.records;
          bucket.bytes += message.bytes;
          if (message.records > 0) lastProgressAt = performance.now();
        }
      } else if (message.kind === 'ready') {
        worker.ready = true;
        // Producers start once every consumer sits at the end of its partitions.
        if (workers.every((candidate) => candidate.task.role !== 'consumer' || candidate.ready)) {
          for (const producer of workers) if (producer.task.role === 'producer' && !producer.started) start(producer);
        }
      } else if (message.kind === 'error') {
        finish(`${worker.task.role} ${worker.task.index}: ${message.message}`);
      } else {
        worker.done = true;
        worker.totalRecords = message.totalRecords;
        if (message.failedRecords !== undefined) failedRecords = (failedRecords ?? 0) + message.failedRecords;
        if (message.transactions !== undefined) transactions = (transactions ?? 0) + message.transactions;
        if (workers.every((candidate) => candidate.done || (config.mode === 'e2e' && candidate.task.role === 'consumer' && counted >= totalProduced()))) finish();
      }
    };
    const totalProduced = () => workers.filter((worker) => worker.task.role === 'producer' && worker.done).reduce((sum, worker) => sum + worker.totalRecords, 0);
    const start = (worker: Worker) => {
      worker.started = true;
      worker.child.send(worker.task);
    };
    for (const worker of workers) {
      worker.child.on('message', (message: WorkerMessage) => onMessage(worker, message));
      worker.child.on('exit', (code) => {
        if (!worker.done && !finished) finish(`${worker.task.role} ${worker.task.index} exited with code ${code} before finishing`);
      });
      if (worker.task.role === 'consumer' || !workers.some((candidate) => candidate.task.role === 'consumer')) start(worker);
    }
    void broker?.exited.then(({ code, signal }) => finish(`the broker exited (${code ?? signal}) during the run`));
    const ticker = setInterval(() => {
      progress.update({ elapsedS: (performance.now() - startedAt) / 1000, records: counted, bytes, latency: total.totalCount > 0 ? summarize(total) : undefined, target: config.records, durationS: config.durationS });
      if (config.mode === 'e2e' && workers.filter((worker) => worker.task.role === 'producer').every((worker) => worker.done) && counted >= totalProduced()) finish();
      if (performance.now() - lastProgressAt > stallMs) finish(`no progress for ${stallMs / 1000} s; is the broker still up?`);
    }, 1000);
  });
}
