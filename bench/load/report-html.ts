/**
 * A self-contained HTML report of bench runs: inline SVG charts drawn here, inline CSS, no
 * script and nothing fetched, so it opens anywhere, offline, and can be attached to an issue.
 * For each run: throughput per second over the run, and latency at each percentile.
 */
import type { BenchResult } from './result.js';

interface Series {
  name: string;
  points: Array<[x: number, y: number]>;
}

interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Labels for x positions (percentile charts); numbers are printed otherwise. */
  xTicks?: Array<[x: number, label: string]>;
}

const width = 720;
const height = 300;
const margin = { top: 30, right: 20, bottom: 45, left: 80 };
const colors = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df'];

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[character]!);

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function format(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e4 ? 0 : 1)}k`;
  return Number(value.toFixed(2)).toString();
}

export function lineChart(series: Series[], options: ChartOptions): string {
  const all = series.flatMap((entry) => entry.points);
  const xMin = Math.min(...all.map(([x]) => x), 0);
  const xMax = Math.max(...all.map(([x]) => x), xMin + 1);
  const yMax = niceMax(Math.max(...all.map(([, y]) => y), 0));
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const sx = (x: number) => margin.left + ((x - xMin) / (xMax - xMin)) * plotWidth;
  const sy = (y: number) => margin.top + plotHeight - (y / yMax) * plotHeight;
  const parts: string[] = [];
  parts.push(`<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(options.title)}">`);
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escapeHtml(options.title)}</text>`);
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (yMax / 4) * tick;
    parts.push(`<line class="grid" x1="${margin.left}" x2="${width - margin.right}" y1="${sy(value)}" y2="${sy(value)}"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${sy(value) + 4}" text-anchor="end">${format(value)}</text>`);
  }
  const xTicks = options.xTicks ?? Array.from({ length: 6 }, (_, index) => {
    const x = xMin + ((xMax - xMin) / 5) * index;
    return [x, format(Math.round(x))] as [number, string];
  });
  for (const [x, label] of xTicks) parts.push(`<text x="${sx(x)}" y="${height - margin.bottom + 16}" text-anchor="middle">${escapeHtml(label)}</text>`);
  parts.push(`<text x="${width / 2}" y="${height - 8}" text-anchor="middle" class="axis">${escapeHtml(options.xLabel)}</text>`);
  parts.push(`<text x="14" y="${height / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${height / 2})">${escapeHtml(options.yLabel)}</text>`);
  parts.push(`<line class="axis-line" x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotHeight}"/>`);
  parts.push(`<line class="axis-line" x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}"/>`);
  series.forEach((entry, index) => {
    const color = colors[index % colors.length]!;
    const points = entry.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline class="series" data-series="${escapeHtml(entry.name)}" fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`);
    for (const [x, y] of entry.points) {
      parts.push(`<circle class="point" data-x="${x}" data-y="${y}" cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"><title>${escapeHtml(entry.name)}: ${format(y)}</title></circle>`);
    }
    if (series.length > 1) parts.push(`<text x="${width - margin.right - 4}" y="${margin.top + 14 * (index + 1)}" text-anchor="end" fill="${color}">${escapeHtml(entry.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

const percentiles: Array<[key: 'p50Ms' | 'p90Ms' | 'p99Ms' | 'p999Ms' | 'maxMs', label: string]> = [
  ['p50Ms', 'p50'], ['p90Ms', 'p90'], ['p99Ms', 'p99'], ['p999Ms', 'p99.9'], ['maxMs', 'max'],
];

function runSection(result: BenchResult, index: number): string {
  const name = result.config.workload ?? `${result.config.mode} run ${index + 1}`;
  const throughput = lineChart([{ name: 'records/s', points: result.series.map((sample) => [sample.second + 1, sample.records]) }], {
    title: `${name}: throughput per second`, xLabel: 'second of the run', yLabel: 'records/s',
  });
  const latency = result.latency === undefined ? '<p class="none">No latency was measured in this run (consume runs measure throughput only).</p>'
    : lineChart([{ name: `${result.latency.source} latency`, points: percentiles.map(([key], position) => [position, result.latency![key]]) }], {
      title: `${name}: ${result.latency.source} latency by percentile`, xLabel: 'percentile', yLabel: 'ms',
      xTicks: percentiles.map(([, label], position) => [position, label]),
    });
  const rows: Array<[string, string]> = [
    ['mode', result.config.mode], ['records', result.totals.records.toLocaleString('en-US')],
    ['records/s', Math.round(result.totals.recordsPerSec).toLocaleString('en-US')], ['MB/s', result.totals.mbps.toFixed(1)],
    ['record size', `${result.config.recordBytes} B`], ['partitions', String(result.partitions)],
    ['producers / consumers', `${result.config.producers} / ${result.config.consumers}`], ['acks', String(result.config.acks)],
    ['compression', result.config.compression], ['rate', result.config.rate === undefined ? 'as fast as possible' : `${result.config.rate.toLocaleString('en-US')} rec/s`],
  ];
  if (result.latency !== undefined) for (const [key, label] of percentiles) rows.push([`${label} latency`, `${result.latency[key]} ms`]);
  if (result.config.warmupS > 0) rows.push(['warm-up', `first ${result.config.warmupS} s left out of the percentiles`]);
  if (result.error !== undefined) rows.push(['ended early', result.error]);
  const table = rows.map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`).join('');
  return `<section><h2>${escapeHtml(name)}</h2><table>${table}</table>${throughput}${latency}</section>`;
}

export function renderReport(results: BenchResult[]): string {
  const environment = results[0]?.environment;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice bench report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 780px; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; } th, td { text-align: left; padding: 2px 12px 2px 0; } th { font-weight: 600; }
svg.chart { width: 100%; height: auto; margin: 0.5em 0 1.5em; } svg text { font-size: 11px; fill: #57606a; }
svg .title { font-size: 13px; fill: #1f2328; font-weight: 600; } svg .grid { stroke: #d8dee4; } svg .axis-line { stroke: #8c959f; }
.partial { color: #d1242f; } .none { color: #57606a; }
</style></head><body>
<h1>Sluice bench report</h1>
<p>${escapeHtml(results[0]?.startedAt ?? '')} · ${escapeHtml(environment?.cpus ?? '')} · node ${escapeHtml(environment?.node ?? '')} · ${escapeHtml(environment?.platform ?? '')}</p>
${results.some((result) => result.partial) ? '<p class="partial">At least one run ended early; its figures cover the time until then.</p>' : ''}
${results.map(runSection).join('\n')}
</body></html>
`;
}
