/**
 * Helpers for the delayed-delivery tests: a topic with delayed.delivery.enable, reading a
 * partition until a count of records arrived (bounded in time), and the broker's delayed
 * metrics.
 */
import type { ConsumerRecord } from '../../client/consumer.js';
import type { Sluice } from '../../client/sluice.js';

export function header(record: ConsumerRecord, key: string): string | undefined {
  return record.headers.find((entry) => entry.key === key)?.value?.toString('utf8');
}

/** Reads partitions 0…`partitions`−1 of `topic` from the start until `count` records arrived or `timeoutMs` passed; returns what came. */
export async function readRecords(sluice: Sluice, topic: string, count: number, timeoutMs: number, partitions = 1): Promise<ConsumerRecord[]> {
  const consumer = sluice.consumer({});
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  const records: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (records.length < count && Date.now() < deadline) records.push(...(await consumer.poll({ timeoutMs: Math.max(1, Math.min(500, deadline - Date.now())) })));
  } finally {
    await consumer.close();
  }
  return records;
}

/** The sluice_delayed_* gauges of a broker's /metrics. */
export async function delayedMetrics(httpPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const metrics: Record<string, number> = {};
  for (const match of text.matchAll(/^sluice_delayed_(\w+) (\S+)$/gm)) metrics[match[1]!] = Number(match[2]);
  return metrics;
}
