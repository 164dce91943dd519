/**
 * When a record expires for share consumers (behaviour 19): the earliest of its header
 * `x-expires-at` (epoch ms), its timestamp + header `x-ttl-ms`, and its timestamp + the topic's
 * message.ttl.ms. Headers that are not decimal numbers are ignored. Classic consumers and
 * retention never look at this.
 */
import type { DecodedRecord } from '../../proto/record-batch/record-batch.js';

function numberHeader(record: DecodedRecord, key: string): number | undefined {
  for (const header of record.headers) {
    if (header.key !== key || header.value === null) continue;
    const text = header.value.toString('utf8').trim();
    if (!/^-?\d+$/.test(text)) return undefined;
    return Number(text);
  }
  return undefined;
}

/** Epoch ms at which the record expires; Infinity when it never does. */
export function recordExpiresAt(record: DecodedRecord, topicTtlMs: number): number {
  let expiresAt = Infinity;
  const at = numberHeader(record, 'x-expires-at');
  if (at !== undefined) expiresAt = at;
  const ttl = numberHeader(record, 'x-ttl-ms');
  if (ttl !== undefined && ttl >= 0) expiresAt = Math.min(expiresAt, record.timestamp + ttl);
  if (topicTtlMs > 0) expiresAt = Math.min(expiresAt, record.timestamp + topicTtlMs);
  return expiresAt;
}
