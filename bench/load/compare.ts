/** `sluice bench compare A.json B.json`: two results side by side, with B/A ratios. */
import fs from 'node:fs';
import { barChart } from '../report.js';
import type { BenchResult } from './result.js';

function load(file: string): BenchResult {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResult;
  } catch (cause) {
    throw new Error(`cannot read bench result ${file}: ${(cause as Error).message}`);
  }
}

export function compareResults(fileA: string, fileB: string): string {
  const a = load(fileA);
  const b = load(fileB);
  const rows: Array<[string, number | undefined, number | undefined]> = [
    ['records/s', a.totals.recordsPerSec, b.totals.recordsPerSec],
    ['MB/s', a.totals.mbps, b.totals.mbps],
    ['p50 ms', a.latency?.p50Ms, b.latency?.p50Ms],
    ['p90 ms', a.latency?.p90Ms, b.latency?.p90Ms],
    ['p99 ms', a.latency?.p99Ms, b.latency?.p99Ms],
    ['p99.9 ms', a.latency?.p999Ms, b.latency?.p999Ms],
    ['max ms', a.latency?.maxMs, b.latency?.maxMs],
  ];
  const show = (value: number | undefined) => (value === undefined ? '-' : value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(3));
  const lines = [`${'metric'.padEnd(10)} ${'A'.padStart(14)} ${'B'.padStart(14)} ${'B/A'.padStart(8)}`];
  for (const [name, left, right] of rows) {
    const ratio = left === undefined || right === undefined || left === 0 ? '-' : (right / left).toFixed(2);
    lines.push(`${name.padEnd(10)} ${show(left).padStart(14)} ${show(right).padStart(14)} ${ratio.padStart(8)}`);
  }
  lines.push('', `A: ${fileA} (${a.config.workload ?? a.config.mode}, ${a.startedAt})`, `B: ${fileB} (${b.config.workload ?? b.config.mode}, ${b.startedAt})`);
  lines.push('', barChart('records/s', [['A', Math.round(a.totals.recordsPerSec)], ['B', Math.round(b.totals.recordsPerSec)]]));
  return lines.join('\n');
}
