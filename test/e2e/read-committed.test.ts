/**
 * Transactions in a partition, against a real broker process: transactional batches hold the
 * last stable offset back until WriteTxnMarkers (native and Kafka API 27) commits or aborts
 * them; a read_committed fetch stops at the LSO, wakes when a marker moves it, and lists the
 * aborted transactions; the native consumer with isolationLevel read_committed hands out only
 * committed records and never a marker, read_uncommitted everything but markers, and its latest
 * offset is the LSO; Kafka's Fetch and ListOffsets answer the same; all of it after a restart too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { fetchRequest, fetchResponse } from '../../proto/kafka/messages/fetch.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../proto/kafka/messages/list-offsets.js';
import { writeTxnMarkersRequest, writeTxnMarkersResponse } from '../../proto/kafka/messages/write-txn-markers.js';
import { Api, type FetchPartitionResult, type WriteTxnMarkersResponse } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';
import { decodeResponse, KafkaWire, requestFrame } from '../helpers/kafka-wire.js';
import { RawClient } from '../helpers/raw-client.js';

let broker: BrokerProcess;
let correlationId = 0;
const topic = 'tx';

async function native<T>(port: number, body: Record<string, unknown>, api: number, field: string, timeoutMs = 10_000): Promise<T> {
  const raw = await RawClient.connect(port);
  try {
    correlationId += 1;
    raw.send(encodeRequest({ api, version: 1, correlationId, clientId: 'read-committed', ...body } as Parameters<typeof encodeRequest>[0]));
    const response = await raw.response(1, timeoutMs);
    return (response as unknown as Record<string, T>)[field]!;
  } finally {
    raw.close();
  }
}

function values(producerId: number, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `p${producerId}-${from + index}`);
}

async function produce(records: Buffer): Promise<void> {
  const response = await native<{ topics: Array<{ partitions: Array<{ errorCode: number }> }> }>(broker.port, {
    produce: { acks: 1, timeoutMs: 5000, topics: [{ name: topic, partitions: [{ partition: 0, records }] }] },
  }, Api.PRODUCE, 'produce');
  expect(response.topics[0]!.partitions[0]!.errorCode).toBe(0);
}

function txnBatch(producerId: number, baseSequence: number, count: number): Buffer {
  return buildRecordBatch(values(producerId, baseSequence, count).map((value) => ({ key: null, value: Buffer.from(value) })),
    { producerId, producerEpoch: 0, baseSequence, transactional: true });
}

async function writeMarker(producerId: number, committed: boolean): Promise<number> {
  const response = await native<WriteTxnMarkersResponse>(broker.port, {
    writeTxnMarkers: { markers: [{ producerId, producerEpoch: 0, committed, coordinatorEpoch: 1, topics: [{ name: topic, partitions: [0] }] }] },
  }, Api.WRITE_TXN_MARKERS, 'writeTxnMarkers');
  return response.markers[0]!.topics[0]!.partitions[0]!.errorCode;
}

function fetch(isolationLevel: number, maxWaitMs = 0, fetchOffset = 0): Promise<FetchPartitionResult> {
  return native<{ topics: Array<{ partitions: FetchPartitionResult[] }> }>(broker.port, {
    fetch: { maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel, topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset, maxBytes: 1 << 20 }] }] },
  }, Api.FETCH, 'fetch').then((response) => response.topics[0]!.partitions[0]!);
}

async function consumeAll(isolationLevel: 'read_committed' | 'read_uncommitted', end: number): Promise<string[]> {
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  try {
    const consumer = sluice.consumer({ isolationLevel });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const seen: string[] = [];
    const deadline = Date.now() + 10_000;
    while ((consumer.position(topic, 0) ?? 0) < end && Date.now() < deadline) {
      for (const record of await consumer.poll({ timeoutMs: 200 })) seen.push(record.value!.toString());
    }
    expect(consumer.position(topic, 0)).toBe(end);
    await consumer.close();
    return seen;
  } finally {
    await sluice.close();
  }
}

beforeAll(async () => {
  broker = await startBroker();
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  await sluice.admin().createTopic(topic, { partitions: 1 });
  await sluice.close();
});
afterAll(async () => {
  await cleanupBrokers();
});

describe('read_committed', () => {
  it('holds the LSO at an open transaction and moves it with commit and abort markers', async () => {
    await produce(txnBatch(1, 0, 3)); // 0-2
    await produce(txnBatch(2, 0, 3)); // 3-5
    await produce(buildRecordBatch([{ key: null, value: Buffer.from('plain') }])); // 6
    const open = await fetch(1);
    expect(open).toMatchObject({ highWatermark: 7, lastStableOffset: 0 });
    expect(open.records.length).toBe(0);
    expect((await fetch(0)).lastStableOffset).toBe(0);
    const described = await (await globalThis.fetch(`http://127.0.0.1:${broker.httpPort}/v1/topics/${topic}`)).json() as { partitions: Array<Record<string, number>> };
    expect(described.partitions[0]).toMatchObject({ highWatermark: 7, lastStableOffset: 0 });

    // A long poll at the LSO wakes when the commit marker moves it.
    const started = Date.now();
    const parked = fetch(1, 8000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await writeMarker(1, true)).toBe(0); // 7
    const woken = await parked;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(woken.lastStableOffset).toBe(3);
    expect(woken.records.length).toBeGreaterThan(0);

    expect(await writeMarker(2, false)).toBe(0); // 8
    const done = await fetch(1);
    expect(done).toMatchObject({ highWatermark: 9, lastStableOffset: 9 });
    expect(done.abortedTransactions).toEqual([{ producerId: 2, firstOffset: 3 }]);
    // A read starting at the abort marker still overlaps that transaction.
    expect((await fetch(1, 0, 8)).abortedTransactions).toEqual([{ producerId: 2, firstOffset: 3 }]);
  });

  it('hands out only committed records to a read_committed consumer, and no marker to either', async () => {
    expect(await consumeAll('read_committed', 9)).toEqual([...values(1, 0, 3), 'plain']);
    expect(await consumeAll('read_uncommitted', 9)).toEqual([...values(1, 0, 3), ...values(2, 0, 3), 'plain']);
  });

  it('answers the same on the Kafka listener, WriteTxnMarkers included', async () => {
    await produce(txnBatch(3, 0, 2)); // 9-10, open
    const kafka = await KafkaWire.connect(broker.kafkaPort);
    try {
      const fetchFrame = (id: number, isolationLevel: number) => requestFrame(fetchRequest, 11, id, {
        maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
      });
      kafka.send(fetchFrame(1, 1));
      const committed = decodeResponse(fetchResponse, 11, (await kafka.frame(1))!).body.responses[0]!.partitions[0]!;
      expect(committed).toMatchObject({ highWatermark: 11, lastStableOffset: 9, abortedTransactions: [{ producerId: 2, firstOffset: 3 }] });
      kafka.send(fetchFrame(2, 0));
      expect(decodeResponse(fetchResponse, 11, (await kafka.frame(2))!).body.responses[0]!.partitions[0]!).toMatchObject({ lastStableOffset: 9, abortedTransactions: null });

      const latest = (id: number, isolationLevel: number) => requestFrame(listOffsetsRequest, 7, id, {
        replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
      });
      kafka.send(latest(3, 1));
      expect(decodeResponse(listOffsetsResponse, 7, (await kafka.frame(3))!).body.topics[0]!.partitions[0]!.offset).toBe(9);
      kafka.send(latest(4, 0));
      expect(decodeResponse(listOffsetsResponse, 7, (await kafka.frame(4))!).body.topics[0]!.partitions[0]!.offset).toBe(11);

      kafka.send(requestFrame(writeTxnMarkersRequest, 1, 5, {
        markers: [{ producerId: 3, producerEpoch: 0, transactionResult: false, coordinatorEpoch: 1, topics: [{ name: topic, partitionIndexes: [0, 7] }] }],
      }));
      const markers = decodeResponse(writeTxnMarkersResponse, 1, (await kafka.frame(5))!).body.markers[0]!.topics[0]!.partitions;
      expect(markers.map((partition) => [partition.partitionIndex, partition.errorCode])).toEqual([[0, 0], [7, 3]]);
      // An older coordinator epoch is fenced.
      kafka.send(requestFrame(writeTxnMarkersRequest, 1, 6, {
        markers: [{ producerId: 3, producerEpoch: 0, transactionResult: true, coordinatorEpoch: 0, topics: [{ name: topic, partitionIndexes: [0] }] }],
      }));
      expect(decodeResponse(writeTxnMarkersResponse, 1, (await kafka.frame(6))!).body.markers[0]!.topics[0]!.partitions[0]!.errorCode).toBe(52);
    } finally {
      kafka.close();
    }
    const after = await fetch(1);
    expect(after).toMatchObject({ lastStableOffset: 12, abortedTransactions: [{ producerId: 2, firstOffset: 3 }, { producerId: 3, firstOffset: 9 }] });
  });

  it('keeps it all across a restart and a SIGKILL', async () => {
    await produce(txnBatch(4, 0, 1)); // 12, open
    const dataDirectory = broker.dataDirectory;
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      await broker.stop(signal);
      broker = await startBroker({ dataDirectory });
      expect(await fetch(1)).toMatchObject({ highWatermark: 13, lastStableOffset: 12 });
      expect(await consumeAll('read_committed', 12)).toEqual([...values(1, 0, 3), 'plain']);
    }
    // sluice topics describe shows the LSO while it is below the end.
    const described = await runCli(['topics', 'describe', topic, '--bootstrap', broker.bootstrap]);
    expect(described.stdout.split('\n')[1]).toMatch(/end-offset +stable-offset$/);
    expect(described.stdout.split('\n')[2]).toMatch(/ 13 +12$/);
    // Native ListOffsets: a read_committed consumer's latest is the LSO, before the open transaction.
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    try {
      for (const [isolationLevel, latest] of [['read_committed', 12], ['read_uncommitted', 13]] as const) {
        const consumer = sluice.consumer({ isolationLevel });
        consumer.assign([{ topic, partition: 0, offset: 0 }]);
        expect(await consumer.seek(topic, 0, 'latest')).toBe(latest);
        await consumer.close();
      }
    } finally {
      await sluice.close();
    }
    expect(await writeMarker(4, true)).toBe(0);
    expect(await consumeAll('read_committed', 14)).toEqual([...values(1, 0, 3), 'plain', ...values(4, 0, 1)]);
  });

  it('drops an aborted transaction but keeps the same producer\'s next, committed one', async () => {
    await produce(txnBatch(5, 0, 2)); // 14-15
    expect(await writeMarker(5, false)).toBe(0); // 16
    await produce(txnBatch(5, 2, 2)); // 17-18
    expect(await writeMarker(5, true)).toBe(0); // 19
    const seen = await consumeAll('read_committed', 20);
    expect(seen.slice(-2)).toEqual(values(5, 2, 2));
    expect(seen).not.toContain('p5-0');
  });
});
