/**
 * The `__transaction_state` record codec: keys and values round-trip (every state, empty and
 * many partitions, ids past the BMP, extreme numbers), re-encode to the same bytes, and any
 * other bytes — truncations, random bytes, mutations — either decode to a value that
 * round-trips or throw CORRUPT_MESSAGE, never another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTxnKey, decodeTxnValue, encodeTxnKey, encodeTxnValue, type TxnMetadata } from '../../../../broker/transactions/txn-record.js';
import { txnStates } from '../../../../broker/transactions/txn-state.js';
import { decodeOrCorrupt } from '../../../helpers/decode-or-corrupt.js';

const metadataArbitrary = fc.record({
  transactionalId: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  producerId: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
  lastProducerId: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  lastProducerEpoch: fc.integer({ min: -1, max: 32767 }),
  timeoutMs: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  state: fc.constantFrom(...txnStates),
  partitions: fc.uniqueArray(fc.record({ topic: fc.stringMatching(/^[a-z_]{1,12}$/), partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }) }), {
    maxLength: 20, selector: (entry) => `${entry.topic}/${entry.partition}`,
  }),
  lastUpdateMs: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
  startMs: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
}).map((metadata): TxnMetadata => ({
  ...metadata,
  partitions: [...metadata.partitions].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition)),
}));

describe('__transaction_state records', () => {
  it('round-trips every field of every state', () => {
    fc.assert(fc.property(metadataArbitrary, (metadata) => {
      const key = encodeTxnKey(metadata.transactionalId);
      expect(decodeTxnKey(key)).toBe(metadata.transactionalId);
      const value = encodeTxnValue(metadata);
      const decoded = decodeTxnValue(metadata.transactionalId, value);
      expect(decoded).toEqual(metadata);
      expect(encodeTxnValue(decoded).equals(value)).toBe(true);
    }), { numRuns: 500 });
  });

  it('a known value has the documented layout', () => {
    const value = encodeTxnValue({
      transactionalId: 't', producerId: 7, lastProducerId: -1, producerEpoch: 2, lastProducerEpoch: 1, timeoutMs: 60000, state: 'Ongoing',
      partitions: [{ topic: 'a', partition: 1 }, { topic: 'a', partition: 3 }], lastUpdateMs: 5, startMs: 4,
    });
    expect(value.toString('hex')).toBe([
      '0000', '0000000000000007', 'ffffffffffffffff', '0002', '0001', '0000ea60', '01',
      '00000001', '000161', '00000002', '00000001', '00000003', '0000000000000005', '0000000000000004',
    ].join(''));
    expect(encodeTxnKey('t').toString('hex')).toBe('0000000174');
  });

  it('every truncation, random bytes and single-byte mutations decode or throw CORRUPT_MESSAGE', () => {
    fc.assert(fc.property(metadataArbitrary, fc.nat(), fc.integer({ min: 0, max: 255 }), (metadata, at, byte) => {
      const value = encodeTxnValue(metadata);
      for (let length = 0; length < value.length; length += Math.max(1, Math.floor(value.length / 16))) {
        expect(() => decodeTxnValue('t', value.subarray(0, length))).toThrow(/does not parse/);
      }
      const mutated = Buffer.from(value);
      mutated[at % mutated.length] = byte;
      // What decodes is a value like any other: it encodes and decodes back to itself.
      const decoded = decodeOrCorrupt(() => decodeTxnValue('t', mutated));
      if (decoded !== undefined) expect(decodeTxnValue('t', encodeTxnValue(decoded))).toEqual(decoded);
    }), { numRuns: 300 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeOrCorrupt(() => decodeTxnValue('t', Buffer.from(bytes)));
      decodeOrCorrupt(() => decodeTxnKey(Buffer.from(bytes)));
    }), { numRuns: 2000 });
  });

  it('refuses an unknown version, state or leftover bytes', () => {
    const value = encodeTxnValue({
      transactionalId: 't', producerId: 1, lastProducerId: -1, producerEpoch: 0, lastProducerEpoch: -1, timeoutMs: 1, state: 'Empty', partitions: [], lastUpdateMs: 0, startMs: -1,
    });
    const badVersion = Buffer.from(value);
    badVersion.writeInt16BE(1, 0);
    expect(() => decodeTxnValue('t', badVersion)).toThrow(/value version 1/);
    const badState = Buffer.from(value);
    badState.writeInt8(9, 2 + 8 + 8 + 2 + 2 + 4);
    expect(() => decodeTxnValue('t', badState)).toThrow(/state 9/);
    expect(() => decodeTxnValue('t', Buffer.concat([value, Buffer.from([0])]))).toThrow(/left over/);
  });
});
