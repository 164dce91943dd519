/**
 * Kafka's ConsumerProtocol subscription and assignment: golden bytes built by hand from the
 * layout in Kafka's ConsumerProtocolSubscription/Assignment schemas, round trips of every
 * version, Kafka's rule for newer versions, KafkaJS's short version-1 subscription, truncated
 * or random bytes ending in a ConsumerProtocolError and nothing else, and what describing a
 * member shows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConsumerAssignment, ConsumerProtocolError, type ConsumerSubscription, decodeAssignment, decodeSubscription, describeConsumerMember, encodeAssignment,
  encodeSubscription,
} from '../../../proto/consumer-protocol.js';
import { SluiceError } from '../../../proto/errors.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Throws unless `work` fails with a ConsumerProtocolError (a SluiceError with its code). */
function expectProtocolError(work: () => unknown): void {
  let failure: unknown;
  try {
    work();
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(ConsumerProtocolError);
  expect(SluiceError.is(failure) && failure.code).toBe('SLUICE_ERR_CONSUMER_PROTOCOL');
}

const fullSubscription: ConsumerSubscription = {
  version: 3, topics: ['a', 'b'], userData: Buffer.from([1, 2]), ownedPartitions: [{ topic: 'a', partitions: [0, 2] }], generationId: 7, rackId: 'r1',
};
// version 3 | topics [a, b] | userData 0102 | owned [a: 0, 2] | generation 7 | rack "r1"
const fullSubscriptionBytes = hex(`0003  00000002 0001 61 0001 62  00000002 0102
  00000001 0001 61 00000002 00000000 00000002  00000007  0002 7231`);

describe('ConsumerProtocol subscription', () => {
  it('writes and reads the golden bytes of each version', () => {
    // v0: version 0 | topics [t] | userData null
    expect(encodeSubscription({ topics: ['t'] }, 0)).toEqual(hex('0000 00000001 0001 74 ffffffff'));
    // v1 adds ownedPartitions; v2 generationId (default −1); v3 rackId (nullable string, −1 = null)
    expect(encodeSubscription({ topics: ['t'], ownedPartitions: [{ topic: 't', partitions: [3] }] }, 1))
      .toEqual(hex('0001 00000001 0001 74 ffffffff 00000001 0001 74 00000001 00000003'));
    expect(encodeSubscription({ topics: [] }, 2)).toEqual(hex('0002 00000000 ffffffff 00000000 ffffffff'));
    expect(encodeSubscription({ topics: [] })).toEqual(hex('0003 00000000 ffffffff 00000000 ffffffff ffff'));
    expect(encodeSubscription(fullSubscription)).toEqual(fullSubscriptionBytes);
    expect(decodeSubscription(fullSubscriptionBytes)).toEqual(fullSubscription);
    expect(decodeSubscription(hex('0000 00000001 0001 74 ffffffff'))).toEqual({
      version: 0, topics: ['t'], userData: null, ownedPartitions: [], generationId: -1, rackId: null,
    });
  });

  it('reads the fields it knows of a newer version and ignores what follows (Kafka\'s rule)', () => {
    const newer = Buffer.concat([hex('0009'), fullSubscriptionBytes.subarray(2), hex('deadbeef')]);
    expect(decodeSubscription(newer)).toEqual({ ...fullSubscription, version: 9 });
  });

  it('reads KafkaJS\'s version 1, which carries only the version 0 fields', () => {
    // KafkaJS's RoundRobinAssigner: version 1 | topics [topic-test] | userData empty (not null), then nothing.
    const kafkajs = hex(`0001 00000001 000a ${Buffer.from('topic-test').toString('hex')} 00000000`);
    expect(decodeSubscription(kafkajs)).toEqual({
      version: 1, topics: ['topic-test'], userData: Buffer.alloc(0), ownedPartitions: [], generationId: -1, rackId: null,
    });
  });

  it('round-trips every version, the fields a version lacks read as their defaults', () => {
    const topicPartitions = fc.array(fc.record({ topic: fc.string({ maxLength: 20 }), partitions: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 5 }) }), { maxLength: 4 });
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 3 }), fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }), fc.option(fc.uint8Array({ maxLength: 20 })),
      topicPartitions, fc.integer({ min: -1, max: 2 ** 31 - 1 }), fc.option(fc.string({ maxLength: 10 })),
      (version, topics, userData, ownedPartitions, generationId, rackId) => {
        const written = { version, topics, userData: userData === null ? null : Buffer.from(userData), ownedPartitions, generationId, rackId };
        expect(decodeSubscription(encodeSubscription(written, version))).toEqual({
          version, topics, userData: written.userData,
          ownedPartitions: version >= 1 ? ownedPartitions : [], generationId: version >= 2 ? generationId : -1, rackId: version >= 3 ? rackId : null,
        });
      },
    ));
  });

  it('refuses every truncation except one ending exactly before a field of version 1 or later', () => {
    // Before ownedPartitions (2 + 10 + 6 bytes in), generationId (+ 19) and rackId (+ 4); 45 bytes in all.
    expect(fullSubscriptionBytes.length).toBe(45);
    const boundaries = new Set([18, 37, 41]);
    for (let length = 0; length < fullSubscriptionBytes.length; length += 1) {
      const prefix = fullSubscriptionBytes.subarray(0, length);
      if (boundaries.has(length)) expect(decodeSubscription(prefix).topics).toEqual(['a', 'b']);
      else expectProtocolError(() => decodeSubscription(prefix));
    }
  });

  it('refuses negative versions, null topics and counts the bytes cannot hold', () => {
    expectProtocolError(() => decodeSubscription(hex('ffff 00000000 ffffffff')));
    expectProtocolError(() => decodeSubscription(hex('0000 ffffffff ffffffff')));
    expectProtocolError(() => decodeSubscription(hex('0000 00000001 ffff ffffffff')));
    expectProtocolError(() => decodeSubscription(hex('0000 7fffffff 0000')));
    expectProtocolError(() => decodeSubscription(hex('0000 00000000 fffffffe')));
    // What Sluice clients sent before ConsumerProtocol: a JSON document.
    expectProtocolError(() => decodeSubscription(Buffer.from('{"topics":["t"],"owned":[]}')));
  });

  it('refuses to write what the layout cannot hold', () => {
    expectProtocolError(() => encodeSubscription({ topics: [] }, 4));
    expectProtocolError(() => encodeSubscription({ topics: [] }, -1));
    expectProtocolError(() => encodeSubscription({ topics: ['x'.repeat(40_000)] }));
    expectProtocolError(() => encodeSubscription({ topics: [], ownedPartitions: [{ topic: 't', partitions: [2 ** 31] }] }));
    expectProtocolError(() => encodeSubscription({ topics: [], ownedPartitions: [{ topic: 't', partitions: [1.5] }] }));
  });
});

describe('ConsumerProtocol assignment', () => {
  it('writes and reads the golden bytes', () => {
    // version 0 | [t: 0, 1] | userData null
    const v0 = hex('0000 00000001 0001 74 00000002 00000000 00000001 ffffffff');
    expect(encodeAssignment({ assignedPartitions: [{ topic: 't', partitions: [0, 1] }] }, 0)).toEqual(v0);
    expect(decodeAssignment(v0)).toEqual({ version: 0, assignedPartitions: [{ topic: 't', partitions: [0, 1] }], userData: null });
    // Every version has the same fields; 3 is written by default.
    expect(encodeAssignment({ assignedPartitions: [], userData: Buffer.from('x') })).toEqual(hex('0003 00000000 00000001 78'));
  });

  it('reads KafkaJS\'s assignment (version 1, empty userData)', () => {
    const kafkajs = hex(`0001 00000001 000a ${Buffer.from('topic-test').toString('hex')} 00000006
      00000002 00000005 00000004 00000001 00000003 00000000  00000000`);
    expect(decodeAssignment(kafkajs)).toEqual({ version: 1, assignedPartitions: [{ topic: 'topic-test', partitions: [2, 5, 4, 1, 3, 0] }], userData: Buffer.alloc(0) });
  });

  it('reads a newer version as version 3 and ignores what follows', () => {
    expect(decodeAssignment(hex('0004 00000000 ffffffff 0102'))).toEqual({ version: 4, assignedPartitions: [], userData: null });
  });

  it('round-trips every version', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.record({ topic: fc.string({ maxLength: 20 }), partitions: fc.array(fc.nat({ max: 2 ** 31 - 1 }), { maxLength: 6 }) }), { maxLength: 5 }),
      fc.option(fc.uint8Array({ maxLength: 20 })),
      (version, assignedPartitions, userData) => {
        const written: ConsumerAssignment = { version, assignedPartitions, userData: userData === null ? null : Buffer.from(userData) };
        expect(decodeAssignment(encodeAssignment(written, version))).toEqual(written);
      },
    ));
  });

  it('refuses every truncation', () => {
    const bytes = encodeAssignment({ assignedPartitions: [{ topic: 'orders', partitions: [0, 5] }, { topic: 'b', partitions: [] }], userData: Buffer.from('sluice') });
    for (let length = 0; length < bytes.length; length += 1) expectProtocolError(() => decodeAssignment(bytes.subarray(0, length)));
  });
});

describe('ConsumerProtocol fuzzing', () => {
  const decodeOrTypedError = (decode: (buffer: Buffer) => unknown, bytes: Uint8Array) => {
    try {
      decode(Buffer.from(bytes));
    } catch (error) {
      expect(error).toBeInstanceOf(ConsumerProtocolError);
    }
  };

  it('ends random bytes in a result or a ConsumerProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeOrTypedError(decodeSubscription, bytes);
      decodeOrTypedError(decodeAssignment, bytes);
    }), { numRuns: 2000 });
  });

  it('ends valid documents with bytes flipped or cut in a result or a ConsumerProtocolError', () => {
    const documents = [fullSubscriptionBytes, encodeAssignment({ assignedPartitions: [{ topic: 'orders', partitions: [0, 1, 2] }], userData: Buffer.from([1]) })];
    fc.assert(fc.property(fc.constantFrom(...documents), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (document, flips, cut) => {
      const bytes = Buffer.from(document);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      const mangled = bytes.subarray(0, cut % (bytes.length + 1));
      decodeOrTypedError(decodeSubscription, mangled);
      decodeOrTypedError(decodeAssignment, mangled);
    }), { numRuns: 2000 });
  });
});

describe('describing a member', () => {
  const subscription = encodeSubscription({ topics: ['orders'] });
  const assignment = encodeAssignment({ assignedPartitions: [{ topic: 'orders', partitions: [1, 3] }] });

  it('shows a consumer group member\'s topics and partitions', () => {
    expect(describeConsumerMember('consumer', subscription, assignment)).toEqual({ topics: ['orders'], partitions: [{ topic: 'orders', partition: 1 }, { topic: 'orders', partition: 3 }] });
    // Before the leader handed anything out.
    expect(describeConsumerMember('consumer', subscription, Buffer.alloc(0))).toEqual({ topics: ['orders'], partitions: [] });
  });

  it('shows nothing it cannot read: another protocol type, or bytes that are not ConsumerProtocol', () => {
    expect(describeConsumerMember('connect', subscription, assignment)).toEqual({ topics: null, partitions: null });
    expect(describeConsumerMember('consumer', Buffer.from('{}'), Buffer.from('{"partitions":[]}'))).toEqual({ topics: null, partitions: null });
  });
});
