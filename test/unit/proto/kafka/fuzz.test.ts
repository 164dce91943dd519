/**
 * Hostile input: every truncation of every message, random bytes, mutated messages and huge
 * lengths end in KafkaProtocolError — never another exception, a hang, or a giant allocation —
 * and values that do not fit their field fail to encode with KafkaProtocolError too.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaApis } from '../../../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import { KafkaProtocolError } from '../../../../proto/kafka/error-codes.js';
import { decodeRequestHeader } from '../../../../proto/kafka/header.js';
import type { KafkaMessageInput, MessageSchema } from '../../../../proto/kafka/schema.js';
import { sampleMessage, schemaVersionList } from './sample.js';

const schemas: MessageSchema[] = Object.values(kafkaApis).flatMap((api) => [api.request, api.response]);
const cases = schemas.flatMap((schema) => schemaVersionList(schema).map((version) => ({ schema, version })));

function encodeSample(schema: MessageSchema, version: number): Buffer {
  const { input } = sampleMessage(schema, version, 'full');
  return Buffer.concat(encodeMessage(schema, version, input as KafkaMessageInput<MessageSchema>));
}

/** Decodes; anything thrown must be a KafkaProtocolError. */
function decodeOrProtocolError(schema: MessageSchema, version: number, bytes: Buffer): void {
  try {
    decodeMessage(schema, version, bytes);
  } catch (error) {
    if (!(error instanceof KafkaProtocolError)) throw error;
  }
}

describe('Kafka codec under hostile input', () => {
  // Tens of thousands of errors are thrown here; their stack traces are not what is tested.
  let stackTraceLimit: number;
  beforeAll(() => {
    stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  });
  afterAll(() => {
    Error.stackTraceLimit = stackTraceLimit;
  });

  it('rejects every truncation of every message of every version with KafkaProtocolError', () => {
    let checked = 0;
    const failures: string[] = [];
    for (const { schema, version } of cases) {
      const bytes = encodeSample(schema, version);
      for (let length = 0; length < bytes.length; length += 1) {
        checked += 1;
        try {
          decodeMessage(schema, version, bytes.subarray(0, length));
          failures.push(`${schema.name} v${version} cut at ${length} decoded`);
        } catch (error) {
          if (!(error instanceof KafkaProtocolError)) failures.push(`${schema.name} v${version} cut at ${length}: ${String(error)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10_000);
  });

  it('decodes or rejects random bytes, with KafkaProtocolError only', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: cases.length - 1 }), fc.uint8Array({ maxLength: 200 }), (index, bytes) => {
        const { schema, version } = cases[index]!;
        decodeOrProtocolError(schema, version, Buffer.from(bytes));
      }),
      { numRuns: 3000, seed: 11 },
    );
  });

  it('decodes or rejects valid messages with bytes overwritten, with KafkaProtocolError only', () => {
    const encoded = cases.map(({ schema, version }) => ({ schema, version, bytes: encodeSample(schema, version) }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: encoded.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff)), { minLength: 1, maxLength: 4 }),
        (index, edits) => {
          const { schema, version, bytes } = encoded[index]!;
          const mutated = Buffer.from(bytes);
          for (const [position, value] of edits) mutated[position % mutated.length] = value;
          decodeOrProtocolError(schema, version, mutated);
        },
      ),
      { numRuns: 3000, seed: 12 },
    );
  });

  it('rejects huge lengths and counts before allocating for them', () => {
    const produceV3 = kafkaApis.produce.request;
    const started = performance.now();
    const attempts: Array<[MessageSchema, number, string, RegExp]> = [
      // Produce v3: null transactional id, acks, timeout, then topic count 2^31 − 1.
      [produceV3, 3, 'ffff ffff 00007530 7fffffff', /count|length 2147483647/],
      // A records length of 2^31 − 1 with 4 bytes behind it.
      [produceV3, 3, 'ffff ffff 00007530 00000001 0001 74 00000001 00000000 7fffffff deadbeef', /length 2147483647/],
      // Produce v9: compact topic count uvarint 2^32 − 1.
      [kafkaApis.produce.request, 9, '00 ffff 00007530 ffffffff0f', /length 4294967294/],
      // A string length of 32767 with 2 bytes behind it.
      [kafkaApis.metadata.request, 1, '00000001 7fff 6162', /length 32767/],
      // A uvarint that never ends.
      [kafkaApis.metadata.request, 9, 'ffffffffffffff', /longer than 5 bytes/],
      // A tagged field claiming more bytes than are left.
      [kafkaApis.apiVersions.request, 3, '02 61 02 62 01 00 7f', /tag 0 has 127 bytes/],
      // Negative lengths other than −1.
      [kafkaApis.metadata.request, 1, 'fffffffe', /negative length -2/],
    ];
    for (const [schema, version, text, message] of attempts) {
      const bytes = Buffer.from(text.replace(/\s+/g, ''), 'hex');
      expect(() => decodeMessage(schema, version, bytes), text).toThrow(KafkaProtocolError);
      expect(() => decodeMessage(schema, version, bytes), text).toThrow(message);
    }
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('checks a tagged value takes exactly the bytes its size declares', () => {
    // ApiVersions v3 request: empty names, then tag 0 unknown (skipped), fine.
    expect(decodeMessage(kafkaApis.apiVersions.request, 3, Buffer.from('010101000100', 'hex'))).toEqual({
      clientSoftwareName: '',
      clientSoftwareVersion: '',
    });
    // Fetch v12 request: cluster id (tag 0) declared as 3 bytes holding a 1-byte compact string.
    const fetch = kafkaApis.fetch.request;
    const body = Buffer.from('ffffffff 00000000 00000001 7fffffff 00 00000000 ffffffff 01 01 01 01 00 03 01 4142'.replace(/\s+/g, ''), 'hex');
    expect(() => decodeMessage(fetch, 12, body)).toThrow(/declares 3 bytes but its value took 1/);
  });

  it('rejects a version the schema does not describe', () => {
    expect(() => decodeMessage(kafkaApis.produce.request, 13, Buffer.alloc(10))).toThrow(KafkaProtocolError);
    expect(() => encodeMessage(kafkaApis.fetch.request, -1, {} as never)).toThrow(/no version -1/);
  });

  it('reads random headers or rejects them with KafkaProtocolError only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const header = decodeRequestHeader(Buffer.from(bytes));
          expect(header.bodyOffset).toBeLessThanOrEqual(bytes.length);
        } catch (error) {
          if (!(error instanceof KafkaProtocolError)) throw error;
        }
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  it('refuses values that do not fit their fields', () => {
    const metadata = kafkaApis.metadata.response;
    const base = { throttleTimeMs: 0, brokers: [], clusterId: null, controllerId: 1, topics: [] };
    const bad: Array<[MessageSchema, number, unknown, RegExp]> = [
      [metadata, 9, { ...base, throttleTimeMs: 2 ** 31 }, /throttleTimeMs: expected an int32/],
      [metadata, 9, { ...base, throttleTimeMs: 1.5 }, /expected an int32/],
      [metadata, 9, { ...base, brokers: [{ nodeId: 1, host: 7, port: 1 }] }, /brokers\[\]\.host: expected a string/],
      [metadata, 1, { ...base, clusterId: 'x', brokers: [{ nodeId: 1, host: 'h', port: 2 ** 40, rack: null }] }, /brokers\[\]\.port: expected an int32/],
      [metadata, 9, { ...base, topics: [{ errorCode: 0, name: null, partitions: [] }] }, /topics\[\]\.name: expected a string \(null/],
      [metadata, 10, { ...base, topics: [{ errorCode: 0, name: 't', topicId: 'not-a-uuid', partitions: [] }] }, /UUID/],
      [metadata, 9, { ...base, topics: 'no' }, /topics: expected an array/],
      [metadata, 9, { ...base, brokers: [{ nodeId: 1, host: 'x'.repeat(40000), port: 1 }] }, /at most 32767/],
      [kafkaApis.produce.request, 9, { acks: 70000, timeoutMs: 1, topicData: [] }, /acks: expected an int16/],
      [kafkaApis.produce.request, 9, { acks: 1, timeoutMs: 1, topicData: [{ name: 't', partitionData: [{ index: 0, records: 'x' }] }] }, /records/],
      [kafkaApis.fetch.request, 4, { maxWaitMs: 1n, minBytes: 1, topics: [] }, /expected an int32/],
      [kafkaApis.apiVersions.response, 3, null, /expected an object/],
    ];
    for (const [schema, version, value, message] of bad) {
      expect(() => encodeMessage(schema, version, value as KafkaMessageInput<MessageSchema>)).toThrow(KafkaProtocolError);
      expect(() => encodeMessage(schema, version, value as KafkaMessageInput<MessageSchema>)).toThrow(message);
    }
  });
});
