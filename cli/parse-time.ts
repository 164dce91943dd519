/** A time given on the command line: ISO 8601 (`2026-11-24T10:00:00Z`) or epoch milliseconds. */
export function parseTime(text: string, flag: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(value)) throw new Error(`${flag} takes an ISO 8601 time or epoch milliseconds, got "${text}"`);
  return value;
}

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration given on the command line: `30s`, `1.5m`, `2h`, `7d`, `250ms`, or plain milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) throw new Error(`${flag} takes a duration such as 30s, 5m, 2h, 7d, 250ms or plain milliseconds, got "${text}"`);
  return Math.round(Number(match[1]) * durationUnits[match[2] ?? 'ms']!);
}
