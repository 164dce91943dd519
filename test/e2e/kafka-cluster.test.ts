/**
 * The Kafka listener in a three-broker cluster (etcd, real processes): every broker registers
 * its own Kafka address, so Metadata from any one lists all three at their Kafka ports with the
 * controller; KafkaJS creates a replicated topic through the controller, produces with acks=−1
 * to the leaders, and a group consumer finds its coordinator (at its Kafka address) and reads
 * everything back. A stopped broker drops out of what the others announce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupCluster, startCluster, type TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';
import { kafkaApis } from '../../proto/kafka/apis.js';
import { expectKcatOk, kafkajs, kcat } from '../helpers/kafka-clients.js';
import { decodeResponse, KafkaWire, requestFrame } from '../helpers/kafka-wire.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

interface KcatMetadata {
  brokers: Array<{ id: number; name: string }>;
  controllerid: number;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
}

describe('the Kafka listener in a cluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({ brokers: 3, args: ['--group-initial-rebalance-delay-ms', '200'] });
  }, 60_000);
  afterAll(cleanupCluster);

  const metadataFrom = async (nodeId: number) => {
    const address = `127.0.0.1:${cluster.broker(nodeId).kafkaPort}`;
    return JSON.parse(expectKcatOk(await kcat(address, ['-L', '-J']), `-L at broker ${nodeId}`)) as KcatMetadata;
  };

  it('announces every broker at its own Kafka address, from whichever broker is asked', async () => {
    const expected = cluster.brokers.map((broker) => ({ id: broker.nodeId, name: `127.0.0.1:${broker.kafkaPort}` }));
    await waitFor('every broker registered', async () => (await metadataFrom(1)).brokers.length === 3, 20_000);
    for (const nodeId of [1, 2, 3]) {
      const metadata = await metadataFrom(nodeId);
      expect([...metadata.brokers].sort((a, b) => a.id - b.id)).toEqual(expected);
      expect([1, 2, 3]).toContain(metadata.controllerid);
    }
  });

  it('creates a replicated topic, produces with acks=-1 and consumes it in a group through KafkaJS', async () => {
    const { kafka, logs } = kafkajs(cluster.kafkaBootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await waitFor('__consumer_offsets to exist', async () => (await admin.listTopics()).includes('__consumer_offsets'), 30_000);
    expect(await admin.createTopics({ topics: [{ topic: 'replicated', numPartitions: 6, replicationFactor: 3 }], waitForLeaders: true })).toBe(true);
    const metadata = await metadataFrom(2);
    const topic = metadata.topics.find((candidate) => candidate.topic === 'replicated')!;
    expect(topic.partitions).toHaveLength(6);
    for (const partition of topic.partitions) expect(partition.replicas.map((replica) => replica.id).sort()).toEqual([1, 2, 3]);
    // Leaders are spread over the brokers, so the producer talks to all three.
    expect(new Set(topic.partitions.map((partition) => partition.leader)).size).toBe(3);

    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 300 }, (_, index) => `value-${index}`);
    for (let start = 0; start < values.length; start += 50) {
      await producer.send({ topic: 'replicated', acks: -1, messages: values.slice(start, start + 50).map((value, offset) => ({ key: `key-${start + offset}`, value })) });
    }
    const consumer = kafka.consumer({ groupId: 'cluster-readers', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'replicated', fromBeginning: true });
    const received = new Set<string>();
    await consumer.run({ eachMessage: async ({ message }) => { received.add(message.value!.toString()); } });
    await waitFor('every record', () => received.size === values.length, 60_000);
    await consumer.disconnect();
    const committed = await admin.fetchOffsets({ groupId: 'cluster-readers', topics: ['replicated'] });
    expect(committed[0]!.partitions.reduce((sum, partition) => sum + Number(partition.offset), 0)).toBe(values.length);
    await producer.disconnect();
    await admin.disconnect();
    expect(logs.filter((line) => line.startsWith('ERROR'))).toEqual([]);
  }, 120_000);

  it('adds partitions and changes configs through the controller, seen by every broker', async () => {
    const { kafka } = kafkajs(cluster.kafkaBootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createPartitions({ topicPartitions: [{ topic: 'replicated', count: 8 }] });
    await waitFor('8 partitions everywhere', async () => {
      for (const nodeId of [1, 2, 3]) {
        const topic = (await metadataFrom(nodeId)).topics.find((candidate) => candidate.topic === 'replicated');
        if (topic?.partitions.length !== 8 || topic.partitions.some((partition) => partition.leader < 0)) return false;
      }
      return true;
    }, 30_000);
    const producer = kafka.producer();
    await producer.connect();
    const [result] = await producer.send({ topic: 'replicated', acks: -1, messages: [{ value: 'in a new partition', partition: 7 }] });
    expect(result).toMatchObject({ partition: 7, errorCode: 0, baseOffset: '0' });
    await producer.disconnect();

    const controller = (await metadataFrom(1)).controllerid;
    const wire = await KafkaWire.connect(cluster.broker(controller).kafkaPort);
    const api = kafkaApis.incrementalAlterConfigs;
    wire.send(requestFrame(api.request, 1, 1, { resources: [{ resourceType: 2, resourceName: 'replicated', configs: [{ name: 'retention.ms', configOperation: 0, value: '7200000' }] }], validateOnly: false }));
    expect(decodeResponse(api.response, 1, (await wire.frame())!).body.responses[0]).toMatchObject({ errorCode: 0 });
    wire.close();
    const other = [1, 2, 3].find((nodeId) => nodeId !== controller)!;
    const elsewhere = kafkajs(`127.0.0.1:${cluster.broker(other).kafkaPort}`).kafka.admin();
    await elsewhere.connect();
    await waitFor('the new retention.ms on another broker', async () => {
      const described = await elsewhere.describeConfigs({ resources: [{ type: 2, name: 'replicated', configNames: ['retention.ms'] }], includeSynonyms: false });
      return described.resources[0]!.configEntries[0]?.configValue === '7200000';
    }, 20_000);
    await elsewhere.disconnect();
    await admin.disconnect();
  }, 90_000);

  it('stops announcing a broker once it has left the cluster', async () => {
    await cluster.stop(3);
    await waitFor('broker 3 gone from the metadata', async () => (await metadataFrom(1)).brokers.length === 2, 30_000);
    expect((await metadataFrom(2)).brokers.map((broker) => broker.id).sort()).toEqual([1, 2]);
  }, 60_000);
});
