/**
 * Every API × every version its schema describes × request and response: a value with a
 * non-default value in every field encodes, decodes back to the same value (fields the version
 * lacks at their defaults), and encodes again to the same bytes. Nulls, empty arrays and
 * all-default values round-trip too.
 */
import { describe, expect, it } from 'vitest';
import { kafkaApis } from '../../../../proto/kafka/apis.js';
import { chunksLength, decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import type { KafkaMessageInput, MessageSchema } from '../../../../proto/kafka/schema.js';
import { type SampleMode, sampleMessage, schemaVersionList } from './sample.js';

const schemas: MessageSchema[] = Object.values(kafkaApis).flatMap((api) => [api.request, api.response]);
const modes: SampleMode[] = ['full', 'nulls', 'defaults'];

function encode(schema: MessageSchema, version: number, value: unknown): Buffer {
  const chunks = encodeMessage(schema, version, value as KafkaMessageInput<MessageSchema>);
  const bytes = Buffer.concat(chunks);
  expect(chunksLength(chunks)).toBe(bytes.length);
  return bytes;
}

describe('Kafka codec round trip', () => {
  for (const schema of schemas) {
    it(`${schema.name}: every version, every field`, () => {
      for (const version of schemaVersionList(schema)) {
        for (const mode of modes) {
          const sample = sampleMessage(schema, version, mode);
          const bytes = encode(schema, version, sample.input);
          const decoded = decodeMessage(schema, version, bytes);
          expect(decoded, `${schema.name} v${version} ${mode}`).toEqual(sample.expected);
          expect(encode(schema, version, decoded).equals(bytes), `${schema.name} v${version} ${mode} re-encodes`).toBe(true);
        }
      }
    });
  }

  it('decodes at an offset into a larger buffer, leaving trailing bytes alone', () => {
    const produceRequest = kafkaApis.produce.request;
    const sample = sampleMessage(produceRequest, 9, 'full');
    const body = encode(produceRequest, 9, sample.input);
    const frame = Buffer.concat([Buffer.from([1, 2, 3]), body, Buffer.from([9, 9])]);
    expect(decodeMessage(produceRequest, 9, frame, 3)).toEqual(sample.expected);
  });

  it('decodes records and bytes as views of the input, not copies', () => {
    const schema = kafkaApis.fetch.response;
    const records = Buffer.from('a record batch would be here');
    const bytes = encode(schema, 11, {
      throttleTimeMs: 0,
      errorCode: 0,
      responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 5, abortedTransactions: null, records }] }],
    });
    const decoded = decodeMessage(schema, 11, bytes);
    const view = decoded.responses[0]!.partitions[0]!.records!;
    expect(view.equals(records)).toBe(true);
    expect(view.buffer).toBe(bytes.buffer);
  });

  it('splices records into the output chunks without copying them', () => {
    const schema = kafkaApis.produce.request;
    const batchA = Buffer.from('first batch');
    const batchB = Buffer.from('second batch');
    const chunks = encodeMessage(schema, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topicData: [{ name: 't', partitionData: [{ index: 0, records: [batchA, batchB] }, { index: 1, records: batchA }] }],
    });
    expect(chunks.filter((chunk) => chunk === batchA)).toHaveLength(2);
    expect(chunks.filter((chunk) => chunk === batchB)).toHaveLength(1);
  });

  it('writes int64 beyond 2^53 as the nearest int64 (Long.MAX_VALUE survives a round trip)', () => {
    const schema = kafkaApis.listOffsets.request;
    const bytes = encode(schema, 1, { replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: 2 ** 63 }] }] });
    expect(bytes.readBigInt64BE(bytes.length - 8)).toBe(0x7fffffffffffffffn);
    expect(decodeMessage(schema, 1, bytes).topics[0]!.partitions[0]!.timestamp).toBe(2 ** 63);
    const negative = encode(schema, 1, { replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -(2 ** 64) }] }] });
    expect(negative.readBigInt64BE(negative.length - 8)).toBe(-0x8000000000000000n);
  });
});
