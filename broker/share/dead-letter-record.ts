/**
 * A dead letter as it lands in the DLQ topic: the original key, value and headers, the current
 * x-death-* headers replaced (a record dead-lettered twice carries its latest death) and the
 * x-first-death-* headers added only when not already there. Numbers are decimal strings.
 */
import type { DecodedRecord, RecordHeader, RecordInput } from '../../proto/record-batch/record-batch.js';
import type { DeadReason } from './share-records.js';

export interface DeathFacts {
  reason: DeadReason;
  deliveryCount: number;
  group: string;
  topic: string;
  partition: number;
  time: number;
  message: string;
}

const messageBytesMax = 1024;

/** At most 1 KiB of UTF-8, cut on a character boundary. */
function clip(message: string): string {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= messageBytesMax) return message;
  return bytes.subarray(0, messageBytesMax).toString('utf8').replace(/\uFFFD$/, '');
}

const text = (value: string | number): Buffer => Buffer.from(String(value), 'utf8');

export function deadLetterRecord(record: DecodedRecord, facts: DeathFacts): RecordInput {
  const kept = record.headers.filter((header) => !header.key.startsWith('x-death-'));
  const has = (key: string) => record.headers.some((header) => header.key === key);
  const headers: RecordHeader[] = [
    ...kept,
    { key: 'x-death-reason', value: text(facts.reason) },
    { key: 'x-death-count', value: text(facts.deliveryCount) },
    { key: 'x-death-group', value: text(facts.group) },
    { key: 'x-death-topic', value: text(facts.topic) },
    { key: 'x-death-partition', value: text(facts.partition) },
    { key: 'x-death-offset', value: text(record.offset) },
    { key: 'x-death-time', value: text(facts.time) },
    { key: 'x-death-original-timestamp', value: text(record.timestamp) },
    { key: 'x-death-message', value: text(clip(facts.message)) },
  ];
  const first: Array<[string, string | number]> = [
    ['x-first-death-reason', facts.reason], ['x-first-death-group', facts.group], ['x-first-death-topic', facts.topic], ['x-first-death-time', facts.time],
  ];
  for (const [key, value] of first) if (!has(key)) headers.push({ key, value: text(value) });
  return { key: record.key, value: record.value, headers, timestamp: facts.time };
}

/** The source of a DLQ record (group, topic, partition, offset), from its x-death-* headers; undefined when it has none. */
export function deathSource(record: DecodedRecord): { group: string; topic: string; partition: number; offset: number } | undefined {
  const get = (key: string) => record.headers.find((header) => header.key === key)?.value?.toString('utf8');
  const group = get('x-death-group');
  const topic = get('x-death-topic');
  const partition = get('x-death-partition');
  const offset = get('x-death-offset');
  if (group === undefined || topic === undefined || partition === undefined || offset === undefined) return undefined;
  return { group, topic, partition: Number(partition), offset: Number(offset) };
}
