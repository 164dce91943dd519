/**
 * The Kafka listener's admin and bookkeeping APIs against a real broker process: CreatePartitions,
 * DeleteRecords, DescribeConfigs and DeleteGroups through KafkaJS's admin client;
 * IncrementalAlterConfigs, DescribeCluster and OffsetForLeaderEpoch on a raw connection (KafkaJS
 * does not send them); InitProducerId through an idempotent KafkaJS producer; a create that
 * outlasts its timeout. Changes that are stored (partitions, configs, the log start) hold across
 * a restart.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaApis } from '../../proto/kafka/apis.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';
import { decodeResponse, KafkaWire, requestFrame } from '../helpers/kafka-wire.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const topicResource = ConfigResourceTypes.TOPIC;

describe('Kafka admin APIs', () => {
  let broker: BrokerProcess;
  const args = ['--group-initial-rebalance-delay-ms', '100'];
  const client = () => kafkajs(broker.kafkaBootstrap).kafka;
  const wires: KafkaWire[] = [];
  const raw = async () => {
    const wire = await KafkaWire.connect(broker.kafkaPort);
    wires.push(wire);
    return wire;
  };

  beforeAll(async () => {
    broker = await startBroker({ args });
  });
  afterAll(async () => {
    for (const wire of wires) wire.close();
    await cleanupBrokers();
  });

  const topicConfigs = async (topic: string) => {
    const admin = client().admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({ resources: [{ type: topicResource, name: topic }], includeSynonyms: false });
      return Object.fromEntries(described.resources[0]!.configEntries.map((entry) => [entry.configName, { value: entry.configValue, isDefault: entry.isDefault }]));
    } finally {
      await admin.disconnect();
    }
  };

  it('adds partitions to a topic, which take records at once and stay after a restart', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 2 }], waitForLeaders: true });
    await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 5 }] });
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] })).rejects.toThrow(/partition/i);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'grow', messages: [{ value: 'in the new partition', partition: 4 }] });
    await producer.disconnect();
    expect((await admin.fetchTopicOffsets('grow')).map((entry) => [entry.partition, entry.high])).toEqual([[0, '0'], [1, '0'], [2, '0'], [3, '0'], [4, '1']]);
    await admin.disconnect();

    await broker.stop();
    broker = await startBroker({ dataDirectory: broker.dataDirectory, args });
    const again = client().admin();
    await again.connect();
    expect((await again.fetchTopicMetadata({ topics: ['grow'] })).topics[0]!.partitions).toHaveLength(5);
    expect((await again.fetchTopicOffsets('grow')).find((entry) => entry.partition === 4)?.high).toBe('1');
    await again.disconnect();
  });

  it('deletes records below an offset: consumers start there, also after a restart', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'trim', numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'trim', messages: Array.from({ length: 10 }, (_, index) => ({ value: `record-${index}` })) });
    await producer.disconnect();
    // KafkaJS looks the partition's leader up in metadata it has fetched before, as with Kafka.
    await admin.fetchTopicMetadata({ topics: ['trim'] });
    await admin.deleteTopicRecords({ topic: 'trim', partitions: [{ partition: 0, offset: '6' }] });
    expect(await admin.fetchTopicOffsets('trim')).toEqual([{ partition: 0, offset: '10', high: '10', low: '6' }]);
    await expect(admin.deleteTopicRecords({ topic: 'trim', partitions: [{ partition: 0, offset: '11' }] })).rejects.toThrow();
    await admin.disconnect();

    const consumer = kafka.consumer({ groupId: 'trim-reader', heartbeatInterval: 300 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'trim', fromBeginning: true });
    const values: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value!.toString()); } });
    await waitFor('the records left', () => values.length >= 4, 20_000);
    await consumer.disconnect();
    expect(values).toEqual(['record-6', 'record-7', 'record-8', 'record-9']);

    await broker.stop();
    broker = await startBroker({ dataDirectory: broker.dataDirectory, args });
    const again = client().admin();
    await again.connect();
    expect(await again.fetchTopicOffsets('trim')).toEqual([{ partition: 0, offset: '10', high: '10', low: '6' }]);
    await again.disconnect();
  });

  it('describes topic configs and changes them incrementally, refusing what a live topic cannot take', async () => {
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tuned', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    await admin.disconnect();
    const before = await topicConfigs('tuned');
    expect(before['retention.ms']).toEqual({ value: '3600000', isDefault: false });
    expect(before['cleanup.policy']).toEqual({ value: 'delete', isDefault: true });
    expect(before['max.message.bytes']?.isDefault).toBe(true);

    const alter = async (configs: Array<{ name: string; configOperation: number; value: string | null }>) => {
      const wire = await raw();
      const api = kafkaApis.incrementalAlterConfigs;
      wire.send(requestFrame(api.request, 1, 1, { resources: [{ resourceType: topicResource, resourceName: 'tuned', configs }], validateOnly: false }));
      return decodeResponse(api.response, 1, (await wire.frame())!).body.responses[0]!;
    };
    expect(await alter([
      { name: 'retention.ms', configOperation: 1, value: null },
      { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
      { name: 'max.message.bytes', configOperation: 0, value: '2000000' },
    ])).toMatchObject({ errorCode: 0, resourceName: 'tuned' });
    expect(await alter([{ name: 'segment.bytes', configOperation: 0, value: '1048576' }])).toMatchObject({ errorCode: 40 });
    expect(await alter([{ name: 'no.such.config', configOperation: 0, value: '1' }])).toMatchObject({ errorCode: 40 });

    const after = await topicConfigs('tuned');
    expect(after['retention.ms']?.isDefault).toBe(true);
    expect(after['cleanup.policy']).toEqual({ value: 'compact,delete', isDefault: false });
    expect(after['max.message.bytes']).toEqual({ value: '2000000', isDefault: false });

    await broker.stop();
    broker = await startBroker({ dataDirectory: broker.dataDirectory, args });
    expect((await topicConfigs('tuned'))['cleanup.policy']).toEqual({ value: 'compact,delete', isDefault: false });
  });

  it('deletes a group with no members and its offsets, refusing one with members or none at all', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'grouped', numPartitions: 1 }], waitForLeaders: true });
    await admin.setOffsets({ groupId: 'idle-group', topic: 'grouped', partitions: [{ partition: 0, offset: '0' }] });
    const member = kafka.consumer({ groupId: 'busy-group', heartbeatInterval: 300 });
    await member.connect();
    await member.subscribe({ topic: 'grouped' });
    let joined = false;
    member.on(member.events.GROUP_JOIN, () => { joined = true; });
    await member.run({ eachMessage: async () => {} });
    await waitFor('the member to join', () => joined, 20_000);

    const groups = async () => (await admin.listGroups()).groups.map((group) => group.groupId).filter((id) => id.endsWith('-group')).sort();
    expect(await groups()).toEqual(['busy-group', 'idle-group']);
    const results = await admin.deleteGroups(['idle-group']);
    expect(results).toEqual([{ groupId: 'idle-group', errorCode: 0 }]);
    const failure = async (groupId: string) => {
      const error = await admin.deleteGroups([groupId]).then(() => undefined, (thrown: { groups?: Array<{ groupId: string; error: { type: string } }> }) => thrown);
      return error?.groups?.map((group) => [group.groupId, group.error.type]);
    };
    expect(await failure('busy-group')).toEqual([['busy-group', 'NON_EMPTY_GROUP']]);
    expect(await failure('no-such-group')).toEqual([['no-such-group', 'GROUP_ID_NOT_FOUND']]);
    expect(await groups()).toEqual(['busy-group']);
    expect(await admin.fetchOffsets({ groupId: 'idle-group', topics: ['grouped'] })).toEqual([{ topic: 'grouped', partitions: [{ partition: 0, offset: '-1', metadata: null }] }]);
    await member.disconnect();
    await admin.disconnect();
  });

  it('answers DescribeCluster and OffsetForLeaderEpoch, and gives an idempotent producer an id', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'epochs', numPartitions: 1 }], waitForLeaders: true });
    expect(await admin.describeCluster()).toEqual({ brokers: [{ nodeId: 0, host: '127.0.0.1', port: broker.kafkaPort }], controller: 0, clusterId: 'single-broker' });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'epochs', acks: -1, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await producer.disconnect();

    const wire = await raw();
    const cluster = kafkaApis.describeCluster;
    wire.send(requestFrame(cluster.request, 1, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 }));
    const described = decodeResponse(cluster.response, 1, (await wire.frame())!).body;
    expect(described).toMatchObject({ errorCode: 0, clusterId: 'single-broker', controllerId: 0, brokers: [{ brokerId: 0, host: '127.0.0.1', port: broker.kafkaPort, rack: null }] });

    const epochs = kafkaApis.offsetForLeaderEpoch;
    wire.send(requestFrame(epochs.request, 4, 2, { replicaId: -1, topics: [{ topic: 'epochs', partitions: [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }, { partition: 3, leaderEpoch: 0 }] }] }));
    const ends = decodeResponse(epochs.response, 4, (await wire.frame(2))!).body.topics[0]!.partitions;
    expect(ends).toEqual([
      { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 3 },
      { errorCode: 3, partition: 3, leaderEpoch: -1, endOffset: -1 },
    ]);
  });

  it('answers a create that outlasts its timeoutMs with REQUEST_TIMED_OUT, and the topic still arrives whole', async () => {
    // A broker of its own that auto-creates topics: a client that may create the name must be told to retry meanwhile.
    const creating = await startBroker({ args: ['--auto-create-topics'] });
    const wire = await KafkaWire.connect(creating.kafkaPort);
    wires.push(wire);
    const create = kafkaApis.createTopics;
    wire.send(requestFrame(create.request, 7, 1, {
      topics: [{ name: 'slow', numPartitions: 2000, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 1, validateOnly: false,
    }));
    const answered = decodeResponse(create.response, 7, (await wire.frame(1, 30_000))!).body.topics[0]!;
    expect(answered).toMatchObject({ name: 'slow', errorCode: 7 });
    expect(answered.errorMessage).toMatch(/goes on in the background/);
    // Asked for meanwhile by a client that may auto-create it: "retry", never a second create.
    const metadata = kafkaApis.metadata;
    wire.send(requestFrame(metadata.request, 9, 2, { topics: [{ name: 'slow' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }));
    const seen = decodeResponse(metadata.response, 9, (await wire.frame(2))!).body.topics[0]!;
    if (seen.errorCode === 0) expect(seen.partitions).toHaveLength(2000);
    else expect(seen.errorCode).toBe(5);

    const kafka = kafkajs(creating.kafkaBootstrap).kafka;
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The create goes on: the topic appears with every partition, never fewer.
      await waitFor('the slow topic in the metadata', async () => {
        const topics = await admin.fetchTopicMetadata({ topics: ['slow'] }).then((described) => described.topics, () => []);
        if (topics.length === 0) return false;
        expect(topics[0]!.partitions).toHaveLength(2000);
        return true;
      }, 60_000);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    const [stored] = await producer.send({ topic: 'slow', acks: -1, messages: [{ value: 'last partition', partition: 1999 }] });
    await producer.disconnect();
    expect(stored).toMatchObject({ partition: 1999, errorCode: 0, baseOffset: '0' });
  }, 90_000);
});
