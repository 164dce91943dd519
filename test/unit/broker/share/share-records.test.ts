/**
 * The share-state record codec: keys and values round-trip; truncated, extended or random
 * bytes end in a typed CorruptRecordError (never a RangeError, a hang or a huge allocation);
 * share keys never look like the offset store's JSON keys.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeConfigsValue, decodeShareKey, decodeStateValue, encodeConfigsValue, encodeShareKey, encodeStateValue, isShareKey, RecordState, type ShareKey,
  type ShareStateValue, zeroCounters,
} from '../../../../broker/share/share-records.js';
import { SluiceError } from '../../../../proto/errors.js';

const keys: ShareKey[] = [
  { kind: 'snapshot', group: 'g', topic: 'orders', partition: 3 },
  { kind: 'update', group: 'grüppe', topic: 't', partition: 0, slot: 1023 },
  { kind: 'configs', group: 'g' },
];

const snapshot: ShareStateValue = {
  seq: 12, start: 1000, end: 1010,
  runs: [
    { first: 1000, last: 1002, state: RecordState.acquired, deliveryCount: 2, reason: 0, until: 0 },
    { first: 1003, last: 1003, state: RecordState.delayed, deliveryCount: 1, reason: 0, until: 1_800_000_000_000 },
    { first: 1004, last: 1004, state: RecordState.deadLettering, deliveryCount: 5, reason: 2, until: 0 },
    { first: 1005, last: 1009, state: RecordState.available, deliveryCount: 0, reason: 0, until: 0 },
  ],
  counters: { ...zeroCounters(), acknowledged: 999, skipped: 1 },
};

function typedOrFine(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(SluiceError.is(error), String(error)).toBe(true);
  }
}

describe('share-state records', () => {
  it('round-trip keys, snapshots, updates and configs', () => {
    for (const key of keys) {
      const bytes = encodeShareKey(key);
      expect(isShareKey(bytes)).toBe(true);
      expect(decodeShareKey(bytes)).toEqual(key);
    }
    expect(decodeStateValue(encodeStateValue(snapshot))).toEqual(snapshot);
    expect(decodeConfigsValue(encodeConfigsValue({ 'share.delivery.limit': '3', 'share.dlq.topic': 'dlq' }))).toEqual({ 'share.delivery.limit': '3', 'share.dlq.topic': 'dlq' });
    expect(isShareKey(Buffer.from(JSON.stringify({ group: 'g', topic: 't', partition: 0 })))).toBe(false);
  });

  it('an acquire of one contiguous range costs a few dozen bytes', () => {
    const value = encodeStateValue({
      seq: 100_000, start: 5_000_000, end: 5_000_500, runs: [{ first: 5_000_000, last: 5_000_499, state: RecordState.acquired, deliveryCount: 1, reason: 0, until: 0 }],
      counters: { ...zeroCounters(), acknowledged: 4_999_000, redelivered: 20_000 },
    });
    expect(value.length).toBeLessThan(40);
  });

  it('every truncation and extension of valid records ends in a typed error', () => {
    const samples = [...keys.map((key) => ({ bytes: encodeShareKey(key), decode: (bytes: Buffer) => decodeShareKey(bytes) })),
      { bytes: encodeStateValue(snapshot), decode: (bytes: Buffer) => decodeStateValue(bytes) },
      { bytes: encodeConfigsValue({ a: 'b' }), decode: (bytes: Buffer) => decodeConfigsValue(bytes) }];
    for (const { bytes, decode } of samples) {
      for (let length = 0; length < bytes.length; length += 1) expect(() => decode(bytes.subarray(0, length))).toThrow(SluiceError);
      expect(() => decode(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(SluiceError);
    }
  });

  it('random bytes decode or fail with a typed error, quickly', () => {
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const started = Date.now();
    for (let round = 0; round < 3000; round += 1) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      if (round % 2 === 0 && bytes.length > 0) bytes[0] = 1;
      typedOrFine(() => decodeStateValue(bytes));
      typedOrFine(() => decodeConfigsValue(bytes));
      if (bytes.length > 0) bytes[0] = 0;
      typedOrFine(() => decodeShareKey(bytes));
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
