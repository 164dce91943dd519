/** Plain-text tables for the command line: columns padded to their widest cell, two spaces apart. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n') + '\n';
}

/** A list of node ids as "1,2,3" ("-" when empty). */
export const nodeList = (ids: readonly number[]): string => (ids.length === 0 ? '-' : ids.join(','));
