/**
 * @platformatic/kafka 1.35 — a client that speaks the newest, flexible protocol versions
 * (compact encodings, tagged fields, topic ids in Fetch) — against the Kafka listener of a real
 * broker process: admin create and metadata, a producer with keys and headers over 3
 * partitions, and a group consumer reading everything back and committing.
 */
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';

describe('@platformatic/kafka against the Kafka listener', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '200'] });
  });
  afterAll(cleanupBrokers);

  it('creates a topic, produces keyed records with headers, and a group consumer reads them back', async () => {
    const bootstrapBrokers = [broker.kafkaBootstrap];
    const admin = new Admin({ clientId: 'sluice-test-admin', bootstrapBrokers });
    const producer = new Producer({ clientId: 'sluice-test-producer', bootstrapBrokers, serializers: stringSerializers });
    const consumer = new Consumer({ groupId: 'platformatic-readers', clientId: 'sluice-test-consumer', bootstrapBrokers, deserializers: stringDeserializers });
    try {
      const [created] = await admin.createTopics({ topics: ['flexible'], partitions: 3, replicas: 1 });
      expect(created).toMatchObject({ name: 'flexible', partitions: 3, replicas: 1 });
      const metadata = await admin.metadata({ topics: ['flexible'] });
      expect(metadata.topics.get('flexible')?.partitionsCount).toBe(3);

      const sent = Array.from({ length: 300 }, (_, index) => ({ key: `key-${index % 30}`, value: `value-${index}`, headers: { index: String(index) } }));
      for (let start = 0; start < sent.length; start += 100) {
        await producer.send({ acks: -1, messages: sent.slice(start, start + 100).map((message) => ({ topic: 'flexible', ...message })) });
      }

      const stream = await consumer.consume({ autocommit: true, topics: ['flexible'], mode: 'earliest', sessionTimeout: 10_000, heartbeatInterval: 500 });
      const got: Array<{ partition: number; offset: bigint; key: string; value: string; index: string }> = [];
      for await (const message of stream) {
        got.push({
          partition: message.partition, offset: message.offset, key: message.key as string, value: message.value as string,
          index: String(message.headers.get('index' as never) ?? ''),
        });
        if (got.length === sent.length) break;
      }
      await stream.close();
      expect(got.map((record) => record.value).sort()).toEqual(sent.map((message) => message.value).sort());
      for (const record of got) {
        const index = Number(record.value.slice('value-'.length));
        expect([record.key, record.index]).toEqual([`key-${index % 30}`, String(index)]);
      }
      for (let partition = 0; partition < 3; partition += 1) {
        const offsets = got.filter((record) => record.partition === partition).map((record) => Number(record.offset));
        expect(offsets).toEqual(offsets.map((_, position) => position));
      }
    } finally {
      await consumer.close(true);
      await producer.close();
      await admin.close();
    }
  }, 60_000);
});
