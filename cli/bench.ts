/**
 * `sluice bench produce|consume|e2e [flags]` and `sluice bench compare A.json B.json`.
 * Load tests against a running broker (--bootstrap) or one started for the run (--embedded).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { compareResults } from '../bench/load/compare.js';
import { createProgress } from '../bench/load/progress.js';
import { renderReport } from '../bench/load/report-html.js';
import type { BenchConfig, BenchResult } from '../bench/load/result.js';
import { runBench } from '../bench/load/run.js';
import { workloads } from '../bench/load/workloads.js';
import { barChart } from '../bench/report.js';

export const benchUsage = `usage: sluice bench produce|consume|e2e [options]
       sluice bench compare A.json B.json

  --bootstrap HOST:PORT   broker to load (default 127.0.0.1:9400)
  --embedded              start a broker in a temporary data dir for this run
  --workload NAME         start from a named workload: ${Object.keys(workloads).join(', ')}
  --topic NAME            (default sluice-bench)      --partitions N       (default 6)
  --record-size BYTES     (default 100)               --records N | --duration S
  --rate R                records/s over all producers (default: as fast as possible)
  --producers K --consumers K   worker processes of each kind (default 1)
  --acks 0|1|all          (default 1)                 --compression none|lz4 (default none)
  --keys none|random|N    null keys, random keys, or N distinct keys (default none)
  --batch-size BYTES      (default 16384)             --linger-ms MS (default 5)
  --warmup S              leave the first S seconds out of the latency percentiles (default 0)
  --json FILE             write the result            --report FILE.html  write a chart report
  --quiet                 print only the result`;

function number(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} takes a non-negative number, got "${text}"`);
  return value;
}

function parseConfig(mode: BenchConfig['mode'], argv: string[]): { config: BenchConfig; json?: string; report?: string; quiet: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      bootstrap: { type: 'string' }, embedded: { type: 'boolean', default: false }, workload: { type: 'string' },
      topic: { type: 'string' }, partitions: { type: 'string' }, 'record-size': { type: 'string' }, records: { type: 'string' },
      duration: { type: 'string' }, rate: { type: 'string' }, producers: { type: 'string' }, consumers: { type: 'string' },
      acks: { type: 'string' }, compression: { type: 'string' }, keys: { type: 'string' }, 'batch-size': { type: 'string' },
      'linger-ms': { type: 'string' }, warmup: { type: 'string' }, json: { type: 'string' }, report: { type: 'string' }, quiet: { type: 'boolean', default: false },
    },
  });
  const preset = values.workload === undefined ? undefined : workloads[values.workload];
  if (values.workload !== undefined && preset === undefined) throw new Error(`unknown workload "${values.workload}"; known: ${Object.keys(workloads).join(', ')}`);
  const base = preset?.settings ?? {};
  const acksText = values.acks ?? String(base.acks ?? 1);
  const acks = acksText === 'all' || acksText === '-1' ? -1 : acksText === '0' ? 0 : acksText === '1' ? 1 : undefined;
  if (acks === undefined) throw new Error(`--acks takes 0, 1 or all, got "${acksText}"`);
  const compression = values.compression ?? base.compression ?? 'none';
  if (compression !== 'none' && compression !== 'lz4') throw new Error(`--compression takes none or lz4, got "${compression}"`);
  const keys = values.keys ?? base.keys ?? 'none';
  if (keys !== 'none' && keys !== 'random' && !/^[1-9]\d*$/.test(keys)) throw new Error(`--keys takes none, random or a count of distinct keys, got "${keys}"`);
  const durationS = number(values.duration, '--duration') ?? base.durationS;
  const records = number(values.records, '--records') ?? (durationS === undefined ? base.records ?? 1_000_000 : undefined);
  const rate = number(values.rate, '--rate') ?? base.rate;
  const config: BenchConfig = {
    mode: preset?.settings.mode ?? mode,
    ...(values.workload === undefined ? {} : { workload: values.workload }),
    bootstrap: values.bootstrap ?? '127.0.0.1:9400',
    embedded: values.embedded,
    topic: values.topic ?? 'sluice-bench',
    partitions: number(values.partitions, '--partitions') ?? base.partitions ?? 6,
    recordBytes: Math.max(8, number(values['record-size'], '--record-size') ?? base.recordBytes ?? 100),
    ...(records === undefined ? {} : { records }),
    ...(durationS === undefined ? {} : { durationS }),
    ...(rate === undefined ? {} : { rate }),
    producers: Math.max(1, number(values.producers, '--producers') ?? base.producers ?? 1),
    consumers: Math.max(1, number(values.consumers, '--consumers') ?? base.consumers ?? 1),
    acks, compression, keys,
    batchSize: number(values['batch-size'], '--batch-size') ?? base.batchSize ?? 16384,
    lingerMs: number(values['linger-ms'], '--linger-ms') ?? base.lingerMs ?? 5,
    warmupS: number(values.warmup, '--warmup') ?? base.warmupS ?? 0,
  };
  return { config, ...(values.json === undefined ? {} : { json: values.json }), ...(values.report === undefined ? {} : { report: values.report }), quiet: values.quiet };
}

function summary(result: BenchResult): string {
  const lines = [
    `${result.config.workload ?? result.config.mode}: ${result.totals.records.toLocaleString('en-US')} records in ${result.totals.seconds.toFixed(1)} s`
      + ` = ${Math.round(result.totals.recordsPerSec).toLocaleString('en-US')} records/s, ${result.totals.mbps.toFixed(1)} MB/s`,
  ];
  if (result.latency !== undefined) {
    const l = result.latency;
    lines.push(`${l.source} latency: p50 ${l.p50Ms} ms, p90 ${l.p90Ms} ms, p99 ${l.p99Ms} ms, p99.9 ${l.p999Ms} ms, max ${l.maxMs} ms (${l.count.toLocaleString('en-US')} samples)`);
  }
  if (result.series.length > 1) {
    lines.push(barChart('records/s per second', result.series.slice(0, 30).map((sample) => [`${sample.second + 1}s`, sample.records])));
  }
  if (result.error !== undefined) lines.push(`ended early: ${result.error} (partial result)`);
  return lines.join('\n');
}

export async function benchCommand(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv;
  if (mode === 'compare') {
    if (rest.length !== 2) throw new Error('usage: sluice bench compare A.json B.json');
    process.stdout.write(`${compareResults(rest[0]!, rest[1]!)}\n`);
    return;
  }
  if (mode !== 'produce' && mode !== 'consume' && mode !== 'e2e') {
    process.stdout.write(`${benchUsage}\n`);
    if (mode === undefined || mode === '--help' || mode === 'help') return;
    throw new Error(`unknown bench mode "${mode}"`);
  }
  const { config, json, report, quiet } = parseConfig(mode, rest);
  const progress = createProgress(quiet ? 'quiet' : process.stderr.isTTY ? 'tty' : 'plain');
  const result = await runBench(config, progress);
  progress.done();
  if (json !== undefined) fs.writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  if (report !== undefined) fs.writeFileSync(report, renderReport([result]));
  process.stdout.write(`${summary(result)}\n`);
  if (result.error !== undefined) process.exitCode = 1;
}
