/**
 * Compaction benchmark: builds a compacted partition of ~1 GiB (keyed records, 1 KiB values
 * over 100k keys, 64 MiB segments, so nearly all of it is dirty), then compacts it while
 * `perf_hooks.monitorEventLoopDelay` samples the event loop of this process (which is what a
 * broker's request path would feel), and measures in the same run what the machine does idle:
 * the event-loop delay over the same time with nothing running, and a raw read of the same
 * segment files (MB/s). A small interval timer also records the largest gap between its ticks.
 *
 *   npm run bench:compaction -- [--json] [--mib N] [--keys N] [--dir PATH]
 *
 * With --json the last line of stdout is one JSON object with every figure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { CompactionOutcome } from '../broker/storage/log-compaction.js';
import { Log } from '../broker/storage/log.js';
import { LogCleaner } from '../broker/storage/log-cleaner.js';
import { buildRecordBatch } from '../proto/record-batch/record-batch.js';
import { barChart } from './report.js';
import { seededRandom } from './seeded-random.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    mib: { type: 'string', default: '1024' },
    keys: { type: 'string', default: '100000' },
    'value-bytes': { type: 'string', default: '1024' },
    'segment-mib': { type: 'string', default: '64' },
    'idle-seconds-max': { type: 'string', default: '10' },
    dir: { type: 'string' },
  },
});

const totalBytes = Number(values.mib) * 1024 ** 2;
const keyCount = Number(values.keys);
const valueBytes = Number(values['value-bytes']);
const segmentBytes = Number(values['segment-mib']) * 1024 ** 2;
const recordsPerBatch = 16;
const root = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'sluice-bench-compaction-'));
const progress = (text: string) => process.stderr.write(`${text}\n`);

function build(log: Log): { records: number } {
  const random = seededRandom(7);
  // Values are views of one random pool, so building costs little and does not compress.
  const pool = Buffer.alloc(4 * 1024 * 1024);
  for (let position = 0; position < pool.length; position += 4) pool.writeUInt32LE((random() * 2 ** 32) >>> 0, position);
  let written = 0;
  let records = 0;
  let nextReport = 256 * 1024 ** 2;
  const timestamp = Date.now();
  while (written < totalBytes) {
    const batch = buildRecordBatch(Array.from({ length: recordsPerBatch }, () => {
      const start = Math.floor(random() * (pool.length - valueBytes));
      return { key: Buffer.from(`key-${Math.floor(random() * keyCount)}`), value: pool.subarray(start, start + valueBytes), timestamp };
    }));
    log.append(batch);
    written += batch.length;
    records += recordsPerBatch;
    if (written >= nextReport) {
      progress(`  appended ${(written / 1024 ** 2).toFixed(0)} MiB (${log.segmentCount} segments)`);
      nextReport += 256 * 1024 ** 2;
    }
  }
  log.roll();
  return { records };
}

interface Delay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
  /** The longest time between two ticks of a 1 ms interval timer. */
  maxTickGapMs: number;
}

/** Event-loop delay while `work` runs (from 20 ms before to 50 ms after, so a blocking pass is sampled too). */
async function measureDelay<T>(work: () => Promise<T>): Promise<{ delay: Delay; result: T; seconds: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let maxTickGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxTickGapMs = Math.max(maxTickGapMs, now - last);
    last = now;
  }, 1);
  histogram.enable();
  // The histogram's first tick only sets its clock: let it tick before the work starts.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const start = performance.now();
  const result = await work();
  const seconds = (performance.now() - start) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 50));
  histogram.disable();
  clearInterval(ticker);
  const ms = (nanoseconds: number) => round(nanoseconds / 1e6, 2);
  return {
    delay: {
      p50Ms: ms(histogram.percentile(50)),
      p99Ms: ms(histogram.percentile(99)),
      maxMs: ms(histogram.max),
      samples: histogram.count,
      maxTickGapMs: round(maxTickGapMs, 2),
    },
    result,
    seconds,
  };
}

/** Sequential read of the segment files, 1 MiB at a time: what the disk and page cache give. */
function rawRead(directory: string): { mbps: number; bytes: number } {
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let bytes = 0;
  const start = performance.now();
  for (const name of fs.readdirSync(directory).filter((file) => file.endsWith('.log')).sort()) {
    const fd = fs.openSync(path.join(directory, name), 'r');
    try {
      for (let read = fs.readSync(fd, chunk); read > 0; read = fs.readSync(fd, chunk)) bytes += read;
    } finally {
      fs.closeSync(fd);
    }
  }
  return { mbps: bytes / 1024 ** 2 / ((performance.now() - start) / 1000), bytes };
}

const cleaner = new LogCleaner();

/** One compaction pass of `log`, as the broker's cleaner runs it. */
function compactOnce(log: Log): Promise<CompactionOutcome> {
  return log.compact(cleaner);
}

async function main(): Promise<void> {
  const directory = path.join(root, 'table-0');
  progress(`compaction bench: ${values.mib} MiB of ${valueBytes}-byte values over ${keyCount} keys, ${segmentBytes / 1024 ** 2} MiB segments, in ${root}`);
  const config = { cleanupPolicy: 'compact' as const, segmentBytes };
  let log = Log.open(directory, { config });
  const { records } = build(log);
  await log.flush();
  const sizeBefore = log.size;
  const segments = log.segmentCount;
  progress(`built ${(sizeBefore / 1024 ** 2).toFixed(0)} MiB, ${records} records, ${segments} segments; raw read baseline ...`);
  const raw = rawRead(directory);

  progress('compacting ...');
  const rssBefore = process.memoryUsage().rss;
  const compaction = await measureDelay(() => compactOnce(log));
  const sizeAfter = log.size;
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  progress(`compacted in ${compaction.seconds.toFixed(1)} s: ${compaction.result.segmentsCleaned} segments cleaned, ${compaction.result.recordsRemoved} records removed, ${(sizeAfter / 1024 ** 2).toFixed(0)} MiB left`);

  const idleSeconds = Math.min(compaction.seconds, Number(values['idle-seconds-max']));
  progress(`idle baseline for ${idleSeconds.toFixed(1)} s ...`);
  const idle = await measureDelay(() => new Promise<void>((resolve) => setTimeout(resolve, idleSeconds * 1000)));

  log.close();
  log = Log.open(directory, { config });
  const secondPass = await measureDelay(() => compactOnce(log));
  log.close();
  await cleaner.close();
  fs.rmSync(root, { recursive: true, force: true });

  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}, load ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`,
    bytesBefore: sizeBefore,
    bytesAfter: sizeAfter,
    records,
    keys: keyCount,
    segments,
    compactionSeconds: round(compaction.seconds, 2),
    compactionMBps: round(sizeBefore / 1024 ** 2 / compaction.seconds),
    segmentsCleaned: compaction.result.segmentsCleaned,
    recordsRemoved: compaction.result.recordsRemoved,
    eventLoopDelay: compaction.delay,
    idleEventLoopDelay: { ...idle.delay, seconds: round(idleSeconds, 1) },
    secondPass: { seconds: round(secondPass.seconds, 3), ...secondPass.result },
    rawReadMBps: round(raw.mbps),
    rssGrowthMiB: round((process.memoryUsage().rss - rssBefore) / 1024 ** 2),
    peakRssMiB: round(peakRssMiB),
  };
  progress('');
  progress(barChart('event-loop delay p99 (ms), same run', [
    ['compacting', result.eventLoopDelay.p99Ms],
    ['idle', result.idleEventLoopDelay.p99Ms],
  ]));
  progress(barChart('event-loop delay max (ms), same run', [
    ['compacting', result.eventLoopDelay.maxMs],
    ['idle', result.idleEventLoopDelay.maxMs],
  ]));
  progress(barChart('MB/s, same run', [
    ['compaction (input)', result.compactionMBps],
    ['raw read', result.rawReadMBps],
  ]));
  progress(`second pass with nothing new: ${result.secondPass.seconds} s, ${result.secondPass.segmentsCleaned} segments cleaned, ${result.secondPass.bytesRead ?? 0} bytes read; peak RSS ${result.peakRssMiB} MiB`);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

await main();
