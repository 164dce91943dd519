/**
 * The TypeScript types derived from schemas (checked by the type checker; the runtime part only
 * shows the same values are accepted by the codec).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import { type FetchRequest, type FetchResponseInput, fetchResponse } from '../../../../proto/kafka/messages/fetch.js';
import type { MetadataRequest } from '../../../../proto/kafka/messages/metadata.js';
import { type ProduceRequest, type ProduceRequestInput, produceRequest } from '../../../../proto/kafka/messages/produce.js';

describe('types derived from schemas', () => {
  it('gives decoded messages every field, records as Buffer | null, tagged fields optional', () => {
    type Partition = ProduceRequest['topicData'][number]['partitionData'][number];
    expectTypeOf<Partition>().toEqualTypeOf<{ index: number; records: Buffer | null }>();
    expectTypeOf<ProduceRequest['transactionalId']>().toEqualTypeOf<string | null>();
    expectTypeOf<FetchRequest['clusterId']>().toEqualTypeOf<string | null | undefined>();
    expectTypeOf<FetchRequest['replicaState']>().toEqualTypeOf<{ replicaId: number; replicaEpoch: number } | undefined>();
    expectTypeOf<FetchRequest['topics'][number]['topicId']>().toEqualTypeOf<string>();
    expectTypeOf<FetchRequest['forgottenTopicsData'][number]['partitions']>().toEqualTypeOf<number[]>();
    expectTypeOf<MetadataRequest['topics']>().toEqualTypeOf<Array<{ topicId: string; name: string | null }> | null>();
  });

  it('lets inputs leave out defaulted and version-limited fields and pass records as several buffers', () => {
    const value: ProduceRequestInput = {
      acks: 1,
      timeoutMs: 100,
      topicData: [{ name: 't', partitionData: [{ index: 0, records: [Buffer.from('a'), Buffer.from('b')] }] }],
    };
    expectTypeOf<ProduceRequestInput['transactionalId']>().toEqualTypeOf<string | null | undefined>();
    // @ts-expect-error acks exists in every version and has no default
    const missing: ProduceRequestInput = { timeoutMs: 1, topicData: [] };
    expect(missing).toBeDefined();
    const decoded = decodeMessage(produceRequest, 9, Buffer.concat(encodeMessage(produceRequest, 9, value)));
    expect(decoded.topicData[0]!.partitionData[0]!.records).toEqual(Buffer.from('ab'));
    // A decoded message is a valid input (e.g. to forward or re-encode it).
    expectTypeOf(decoded).toExtend<ProduceRequestInput>();
    const response: FetchResponseInput = { throttleTimeMs: 0, errorCode: 0, responses: [] };
    expect(Buffer.concat(encodeMessage(fetchResponse, 4, response)).length).toBeGreaterThan(0);
  });
});
