/**
 * One consumer group, two kinds of members: a KafkaJS consumer on the Kafka listener and a Sluice
 * client consumer on the native one share a topic's four partitions (both speak Kafka's
 * ConsumerProtocol and the round-robin assignor under KafkaJS's name), each partition read by
 * exactly one of them, and Sluice's admin describes both members with their partitions.
 */
import type { EachMessagePayload } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

describe('a group of KafkaJS and Sluice consumers', () => {
  afterAll(cleanupBrokers);

  it('splits four partitions between a KafkaJS member and a Sluice member, each reading its own', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '300'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('mixed', { partitions: 4 });

    const { kafka, logs } = kafkajs(broker.kafkaBootstrap);
    const kafkaMember = kafka.consumer({ groupId: 'mixed-group', heartbeatInterval: 300, sessionTimeout: 10_000 });
    let kafkaAssigned: number[] = [];
    kafkaMember.on(kafkaMember.events.GROUP_JOIN, (event) => { kafkaAssigned = [...(event.payload.memberAssignment.mixed ?? [])].sort(); });
    const kafkaGot: Array<{ partition: number; value: string }> = [];
    await kafkaMember.connect();
    await kafkaMember.subscribe({ topic: 'mixed', fromBeginning: true });
    await kafkaMember.run({ eachMessage: async ({ partition, message }: EachMessagePayload) => { kafkaGot.push({ partition, value: message.value!.toString() }); } });

    const sluiceMember = sluice.consumer({
      groupId: 'mixed-group', assignor: 'RoundRobinAssigner', autoOffsetReset: 'earliest', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 300,
    });
    sluiceMember.subscribe(['mixed']);
    const sluiceGot: Array<{ partition: number; value: string }> = [];
    let polling = true;
    const polls = (async () => {
      while (polling) for (const record of await sluiceMember.poll({ timeoutMs: 200 })) sluiceGot.push({ partition: record.partition, value: record.value!.toString() });
    })();

    const sluiceAssigned = () => sluiceMember.assignment().map((entry) => entry.partition).sort();
    await waitFor('two partitions each', () => kafkaAssigned.length === 2 && sluiceAssigned().length === 2, 30_000);
    expect([...kafkaAssigned, ...sluiceAssigned()].sort()).toEqual([0, 1, 2, 3]);
    // Produced once the group has settled, so every record is read by its partition's final owner.
    const producer = sluice.producer({ lingerMs: 1 });
    for (let index = 0; index < 40; index += 1) await producer.send({ topic: 'mixed', messages: [{ value: `record-${index}`, partition: index % 4 }] });
    await waitFor('all 40 records', () => kafkaGot.length + sluiceGot.length >= 40, 30_000);
    expect(new Set(kafkaGot.map((record) => record.partition))).toEqual(new Set(kafkaAssigned));
    expect(new Set(sluiceGot.map((record) => record.partition))).toEqual(new Set(sluiceAssigned()));
    expect([...kafkaGot, ...sluiceGot].map((record) => record.value).sort()).toEqual(Array.from({ length: 40 }, (_, index) => `record-${index}`).sort());

    const description = await sluice.admin().describeGroup('mixed-group');
    expect(description.memberDetails.map((member) => [member.readable, member.topics, member.partitions.map((entry) => entry.partition).sort()]).sort())
      .toEqual([[true, ['mixed'], kafkaAssigned], [true, ['mixed'], sluiceAssigned()]].sort());

    polling = false;
    await polls;
    await kafkaMember.disconnect();
    await sluice.close();
    expect(logs.filter((line) => line.startsWith('ERROR'))).toEqual([]);
  }, 90_000);
});
