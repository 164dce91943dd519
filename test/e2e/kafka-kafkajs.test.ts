/**
 * KafkaJS 2.2.4 (old, non-flexible protocol versions) against the Kafka listener of a real
 * broker process: the admin calls, an acks=−1 producer with headers read back exactly by
 * consumer.run, an idempotent producer whose records are stored once, and a group of two consumers splitting four partitions, committing, and a new
 * member resuming where they committed.
 */
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

interface Received {
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: Record<string, string>;
}

function received({ partition, message }: EachMessagePayload): Received {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
  return { partition, offset: Number(message.offset), key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers };
}

describe('KafkaJS against the Kafka listener', () => {
  let broker: BrokerProcess;
  const logs: string[][] = [];
  const client = () => {
    const made = kafkajs(broker.kafkaBootstrap);
    logs.push(made.logs);
    return made;
  };

  beforeAll(async () => {
    broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '200'] });
  });
  afterAll(cleanupBrokers);

  it('creates, lists, describes, finds offsets of and deletes topics with the admin client', async () => {
    const { kafka } = client();
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3 }, { topic: 'admin-b', numPartitions: 1 }], waitForLeaders: true })).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3 }] })).toBe(false);
      expect((await admin.listTopics()).filter((name) => name.startsWith('admin-')).sort()).toEqual(['admin-a', 'admin-b']);
      const metadata = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
      expect(metadata.topics).toEqual([{
        name: 'admin-a',
        partitions: [0, 1, 2].map((partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] })),
      }]);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'admin-a', messages: [{ value: 'one', partition: 1 }, { value: 'two', partition: 1 }, { value: 'three', partition: 2 }] });
      await producer.disconnect();
      expect(await admin.fetchTopicOffsets('admin-a')).toEqual([
        { partition: 0, offset: '0', high: '0', low: '0' },
        { partition: 1, offset: '2', high: '2', low: '0' },
        { partition: 2, offset: '1', high: '1', low: '0' },
      ]);
      await admin.deleteTopics({ topics: ['admin-a', 'admin-b'] });
      expect((await admin.listTopics()).filter((name) => name.startsWith('admin-'))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });

  it('reads back exactly what an acks=-1 producer sent with headers to 6 partitions', async () => {
    const { kafka } = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'headers', numPartitions: 6 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 600 }, (_, index) => ({ key: `key-${index % 50}`, value: `value-${index}`, headers: { index: String(index), kind: index % 2 === 0 ? 'even' : 'odd' } }));
    for (let start = 0; start < sent.length; start += 100) {
      const results = await producer.send({ topic: 'headers', acks: -1, messages: sent.slice(start, start + 100) });
      for (const result of results) expect(result.errorCode).toBe(0);
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'headers-reader', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'headers', fromBeginning: true });
    const got: Received[] = [];
    await consumer.run({ eachMessage: async (payload) => { got.push(received(payload)); } });
    await waitFor('every record', () => got.length >= sent.length, 30_000);
    await consumer.disconnect();

    expect(got).toHaveLength(sent.length);
    const byIndex = new Map(got.map((record) => [Number(record.headers.index), record]));
    for (const [index, message] of sent.entries()) {
      const record = byIndex.get(index)!;
      expect({ key: record.key, value: record.value, headers: record.headers }).toEqual(message);
    }
    // One key, one partition; within a partition, send order at consecutive offsets.
    const partitionOfKey = new Map<string, number>();
    for (const record of got) {
      expect(partitionOfKey.get(record.key) ?? record.partition).toBe(record.partition);
      partitionOfKey.set(record.key, record.partition);
    }
    for (let partition = 0; partition < 6; partition += 1) {
      const records = got.filter((record) => record.partition === partition);
      expect(records.map((record) => record.offset)).toEqual(records.map((_, position) => position));
      const indexes = records.map((record) => Number(record.headers.index));
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    }
  }, 60_000);

  it('an idempotent producer (idempotent: true, 5 requests in flight) stores each record once and the broker keeps its state', async () => {
    const { kafka } = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'idempotent', numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
    await producer.connect();
    const sends = [];
    for (let start = 0; start < 1000; start += 50) {
      sends.push(producer.send({ topic: 'idempotent', acks: -1, messages: Array.from({ length: 50 }, (_, index) => ({ key: `key-${(start + index) % 30}`, value: String(start + index) })) }));
    }
    await Promise.all(sends);
    await producer.disconnect();
    const ends = await admin.fetchTopicOffsets('idempotent');
    await admin.disconnect();
    expect(ends.reduce((sum, entry) => sum + Number(entry.high), 0)).toBe(1000);

    const consumer = kafka.consumer({ groupId: 'idempotent-reader', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'idempotent', fromBeginning: true });
    const got: Received[] = [];
    await consumer.run({ eachMessage: async (payload) => { got.push(received(payload)); } });
    await waitFor('every record', () => got.length >= 1000, 30_000);
    await consumer.disconnect();
    expect(got.map((record) => Number(record.value)).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, index) => index));
    // KafkaJS numbers concurrent send() calls in the order it builds their requests, not the
    // order of the calls: within one send, a partition's records keep their order.
    for (let partition = 0; partition < 3; partition += 1) {
      const values = got.filter((record) => record.partition === partition).map((record) => Number(record.value));
      for (let send = 0; send < 20; send += 1) {
        const ofSend = values.filter((value) => Math.floor(value / 50) === send);
        expect(ofSend).toEqual([...ofSend].sort((a, b) => a - b));
      }
    }
    // Each partition tracks the producer's id: its sequences were checked on every batch.
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    const tracked = [...metrics.matchAll(/^sluice_producer_ids\{[^}]*topic="idempotent"[^}]*\} (\d+)$/gm)].map((match) => Number(match[1]));
    expect(tracked).toEqual([1, 1, 1]);
  }, 60_000);

  it('splits 4 partitions between two group members, and a new member resumes from their commits', async () => {
    const { kafka } = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 4 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    const produce = async (from: number, count: number) => {
      for (let index = from; index < from + count; index += 1) {
        await producer.send({ topic: 'shared', messages: [{ value: `record-${index}`, partition: index % 4 }] });
      }
    };
    await produce(0, 40);

    const members: Array<{ consumer: Consumer; assigned: number[]; got: Received[] }> = [];
    const join = async () => {
      const member = { consumer: kafka.consumer({ groupId: 'sharing', heartbeatInterval: 300, sessionTimeout: 10_000 }), assigned: [] as number[], got: [] as Received[] };
      member.consumer.on(member.consumer.events.GROUP_JOIN, (event) => {
        member.assigned = [...(event.payload.memberAssignment.shared ?? [])].sort();
      });
      await member.consumer.connect();
      await member.consumer.subscribe({ topic: 'shared', fromBeginning: true });
      await member.consumer.run({ eachMessage: async (payload) => { member.got.push(received(payload)); } });
      members.push(member);
      return member;
    };
    const first = await join();
    const second = await join();
    await waitFor('both members assigned two partitions each', () => first.assigned.length === 2 && second.assigned.length === 2, 30_000);
    expect([...first.assigned, ...second.assigned].sort()).toEqual([0, 1, 2, 3]);
    const values = () => members.flatMap((member) => member.got.map((record) => record.value));
    await waitFor('the first 40 records', () => new Set(values()).size === 40, 30_000);
    // Leaving commits what each member processed.
    await first.consumer.disconnect();
    await second.consumer.disconnect();
    const committed = await admin.fetchOffsets({ groupId: 'sharing', topics: ['shared'] });
    expect(committed[0]!.partitions.map((partition) => [partition.partition, partition.offset]).sort()).toEqual([[0, '10'], [1, '10'], [2, '10'], [3, '10']]);

    await produce(40, 20);
    const third = await join();
    await waitFor('the 20 new records', () => third.got.length >= 20, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(third.got.map((record) => record.value).sort()).toEqual(Array.from({ length: 20 }, (_, index) => `record-${40 + index}`).sort());
    await third.consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  }, 90_000);

  it('logged no KafkaJS errors', () => {
    expect(logs.flat().filter((line) => line.startsWith('ERROR'))).toEqual([]);
  });
});
