/**
 * Terminal plots for benchmark results: horizontal bars scaled to the largest value, so
 * figures that people compare are seen as well as read.
 */
const barWidthMax = 48;

export function barChart(title: string, rows: Array<[label: string, value: number]>): string {
  const largest = Math.max(...rows.map(([, value]) => value), 1e-9);
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const lines = [title];
  for (const [label, value] of rows) {
    const width = Math.max(value > 0 ? 1 : 0, Math.round((value / largest) * barWidthMax));
    lines.push(`  ${label.padEnd(labelWidth)} │${'█'.repeat(width)}${' '.repeat(barWidthMax - width)}│ ${value.toLocaleString('en-US')}`);
  }
  return lines.join('\n');
}
