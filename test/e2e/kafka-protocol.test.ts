/**
 * The Kafka listener's own rules, on raw connections to a real broker process: ApiVersions at
 * every version (and a too-new one answered UNSUPPORTED_VERSION in the v0 layout with the
 * ranges), answers strictly in request order behind a long poll, nothing back for acks=0,
 * topic ids that survive a restart, and a closed connection — with the broker serving on — for
 * an unknown API key, an unserved version, a body that does not parse and an oversized frame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advertisedApiVersions, kafkaApis } from '../../proto/kafka/apis.js';
import { ZERO_UUID } from '../../proto/kafka/codec.js';
import { apiVersionsResponse } from '../../proto/kafka/messages/api-versions.js';
import { fetchRequest, fetchResponse } from '../../proto/kafka/messages/fetch.js';
import { metadataRequest, metadataResponse } from '../../proto/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../proto/kafka/messages/produce.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { decodeResponse, KafkaWire, requestFrame, requestFrameOf } from '../helpers/kafka-wire.js';

const apiVersionsKey = kafkaApis.apiVersions.apiKey;
const brokerArgs = ['--max-frame-bytes', String(4 * 1024 * 1024)];

describe('the Kafka listener protocol', () => {
  let broker: BrokerProcess;
  let sluice: Sluice;
  const wires: KafkaWire[] = [];
  const connect = async () => {
    const wire = await KafkaWire.connect(broker.kafkaPort);
    wires.push(wire);
    return wire;
  };
  const metadataFrame = (correlationId: number, version = 12) =>
    requestFrame(metadataRequest, version, correlationId, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

  beforeAll(async () => {
    broker = await startBroker({ args: brokerArgs });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('orders', { partitions: 2 });
  });
  afterAll(async () => {
    for (const wire of wires) wire.close();
    await sluice?.close();
    await cleanupBrokers();
  });

  it('answers ApiVersions at every version with header v0 and the served ranges, and a too-new one with UNSUPPORTED_VERSION in the v0 layout', async () => {
    const wire = await connect();
    const ranges = advertisedApiVersions();
    for (let version = 0; version <= 4; version += 1) {
      wire.send(requestFrame(kafkaApis.apiVersions.request, version, 100 + version, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' }));
      const { correlationId, body } = decodeResponse(apiVersionsResponse, version, (await wire.frame())!);
      expect(correlationId).toBe(100 + version);
      expect(body.errorCode).toBe(0);
      expect(body.apiKeys).toEqual(ranges);
    }
    wire.send(requestFrameOf(apiVersionsKey, 99, 7, Buffer.from([0, 1, 2, 3])));
    const { correlationId, body } = decodeResponse(apiVersionsResponse, 0, (await wire.frame())!);
    expect(correlationId).toBe(7);
    expect(body.errorCode).toBe(35);
    expect(body.apiKeys).toEqual(ranges);
    expect(wire.closed).toBe(false);
  });

  it('answers in request order: a Metadata sent behind a long-polling Fetch comes back after it', async () => {
    const wire = await connect();
    const started = Date.now();
    wire.send(requestFrame(fetchRequest, 11, 1, {
      maxWaitMs: 700, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
    }));
    wire.send(metadataFrame(2));
    const first = decodeResponse(fetchResponse, 11, (await wire.frame(1, 5000))!);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(first.correlationId).toBe(1);
    expect(first.body.responses[0]!.partitions[0]).toMatchObject({ partitionIndex: 0, errorCode: 0, highWatermark: 0 });
    const second = decodeResponse(metadataResponse, 12, (await wire.frame(2))!);
    expect(second.correlationId).toBe(2);
    expect(second.body.topics.map((topic) => topic.name)).toContain('orders');
  });

  it('sends nothing back for an acks=0 produce, and answers the next request in its place', async () => {
    const wire = await connect();
    const records = buildRecordBatch([{ key: null, value: Buffer.from('fire and forget') }]);
    wire.send(requestFrame(produceRequest, 9, 1, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'orders', partitionData: [{ index: 1, records }] }] }));
    wire.send(requestFrame(produceRequest, 9, 2, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'orders', partitionData: [{ index: 1, records }] }] }));
    const { correlationId, body } = decodeResponse(produceResponse, 9, (await wire.frame())!);
    expect(correlationId).toBe(2);
    // The acks=0 batch went first, at offset 0.
    expect(body.responses[0]!.partitionResponses[0]).toMatchObject({ index: 1, errorCode: 0, baseOffset: 1 });
    expect(await wire.frame(2, 300)).toBeUndefined();
  });

  it('lists offsets: earliest, latest, by timestamp, and the record with the highest timestamp', async () => {
    await sluice.admin().createTopic('times', { partitions: 1 });
    const wire = await connect();
    const now = Date.now();
    const produce = (correlationId: number, timestamps: number[]) => requestFrame(produceRequest, 9, correlationId, {
      transactionalId: null, acks: 1, timeoutMs: 1000,
      topicData: [{ name: 'times', partitionData: [{ index: 0, records: buildRecordBatch(timestamps.map((timestamp) => ({ key: null, value: Buffer.from('t'), timestamp }))) }] }],
    });
    // Offsets 0-1, 2-4 (holding the newest record, at offset 3), 5.
    wire.send(Buffer.concat([produce(1, [now - 3000, now - 2000]), produce(2, [now - 1500, now, now - 1000]), produce(3, [now - 500])]));
    await wire.frame(3);
    const api = kafkaApis.listOffsets;
    const ask = (correlationId: number, timestamp: number) => requestFrame(api.request, 7, correlationId, {
      replicaId: -1, isolationLevel: 0, topics: [{ name: 'times', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }],
    });
    const answers: Array<[number, number]> = [];
    for (const [index, timestamp] of [-2, -1, now - 1600, now + 1000, -3].entries()) {
      wire.send(ask(10 + index, timestamp));
      const partition = decodeResponse(api.response, 7, (await wire.frame(4 + index))!).body.topics[0]!.partitions[0]!;
      expect(partition.errorCode).toBe(0);
      answers.push([partition.offset, partition.timestamp]);
    }
    // Max timestamp: the last offset of the batch that holds it, as its segment tracks it.
    expect(answers).toEqual([[0, -1], [6, -1], [2, now - 1500], [-1, -1], [4, now]]);
  });

  it('names topics by id (Metadata v10+, Fetch v13+), the same id after a restart', async () => {
    const idOf = async (wire: KafkaWire) => {
      wire.send(metadataFrame(1));
      const { body } = decodeResponse(metadataResponse, 12, (await wire.frame())!);
      return body.topics.find((topic) => topic.name === 'orders')!.topicId;
    };
    const topicId = await idOf(await connect());
    expect(topicId).not.toBe(ZERO_UUID);
    const wire = await connect();
    wire.send(requestFrame(fetchRequest, 13, 5, {
      maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [
        { topicId, partitions: [{ partition: 1, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] },
        { topicId: '01234567-89ab-cdef-0123-456789abcdef', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] },
      ],
      forgottenTopicsData: [], rackId: '',
    }));
    const { body } = decodeResponse(fetchResponse, 13, (await wire.frame())!);
    expect(body.responses.map((topic) => [topic.topicId, topic.partitions[0]!.errorCode])).toEqual([[topicId, 0], ['01234567-89ab-cdef-0123-456789abcdef', 100]]);
    expect(body.responses[0]!.partitions[0]!.records!.length).toBeGreaterThan(0);

    await broker.stop();
    broker = await startBroker({ dataDirectory: broker.dataDirectory, args: brokerArgs });
    await sluice.close();
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    expect(await idOf(await connect())).toBe(topicId);
  });

  it.each([
    ['an unknown API key', () => requestFrameOf(999, 0, 2, Buffer.alloc(0))],
    ['a version it does not serve (Produce v2)', () => requestFrameOf(kafkaApis.produce.apiKey, 2, 2, Buffer.alloc(16))],
    ['a body that does not parse', () => metadataFrame(2).subarray(0, 20)],
  ])('closes the connection after %s, answering what came before, and serves on', async (_what, bad) => {
    const wire = await connect();
    const frame = bad();
    // A truncated frame still needs a length prefix that matches what is sent.
    if (frame.readInt32BE(0) !== frame.length - 4) frame.writeInt32BE(frame.length - 4, 0);
    wire.send(Buffer.concat([metadataFrame(1), frame, metadataFrame(3)]));
    expect(decodeResponse(metadataResponse, 12, (await wire.frame())!).correlationId).toBe(1);
    expect(await wire.closedWithin()).toBe(true);
    expect(wire.frames).toHaveLength(1);
    const again = await connect();
    again.send(metadataFrame(4));
    expect(decodeResponse(metadataResponse, 12, (await again.frame())!).correlationId).toBe(4);
  });

  it('closes a connection whose frame is larger than the broker takes', async () => {
    const wire = await connect();
    const size = Buffer.alloc(4);
    size.writeInt32BE(5 * 1024 * 1024, 0);
    wire.send(size);
    expect(await wire.closedWithin()).toBe(true);
    expect(wire.frames).toEqual([]);
    const negative = await connect();
    negative.send(Buffer.from([0xff, 0xff, 0xff, 0xf0]));
    expect(await negative.closedWithin()).toBe(true);
    expect(broker.child.exitCode).toBeNull();
  });
});
