/** A time given on the command line: ISO 8601 (`2026-11-24T10:00:00Z`) or epoch milliseconds. */
export function parseTime(text: string, flag: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(value)) throw new Error(`${flag} takes an ISO 8601 time or epoch milliseconds, got "${text}"`);
  return value;
}
