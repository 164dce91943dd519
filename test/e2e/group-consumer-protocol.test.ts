/**
 * One group, a Sluice consumer and a member playing KafkaJS (its exact JoinGroup and SyncGroup
 * bytes, sent over the native protocol), against a real broker: under KafkaJS's assignor name
 * they share a topic's partitions whichever of them leads, and `sluice groups describe` and the
 * admin HTTP show both members with their topics and partitions.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { errorCodes } from '../../proto/errors.js';
import { Api, type JoinGroupResponse, type ResponseEnvelope, type SyncGroupResponse } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';
import { kafkajsAssignment, kafkajsSubscription, readAsKafkajsAssignment, readAsKafkajsSubscription } from '../helpers/kafkajs-bytes.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupBrokers);

let correlationId = 0;

async function call(raw: RawClient, api: number, field: string, body: unknown): Promise<ResponseEnvelope> {
  correlationId += 1;
  const expected = raw.responses.length + 1;
  raw.send(encodeRequest({ api, version: 1, correlationId, clientId: 'kafkajs', [field]: body }));
  const response = await raw.response(expected, 15_000);
  expect(response?.correlationId).toBe(correlationId);
  return response!;
}

const joinAsKafkajs = (raw: RawClient, memberId: string) => call(raw, Api.JOIN_GROUP, 'joinGroup', {
  groupId: 'mixed', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, protocolType: 'consumer',
  protocols: [{ name: 'RoundRobinAssigner', metadata: kafkajsSubscription(['orders']) }],
}).then((response) => response.joinGroup as JoinGroupResponse);

const partitionsOf = (entries: Array<{ partition: number }>) => entries.map((entry) => entry.partition).sort();

describe('a group of a Sluice consumer and a KafkaJS member', () => {
  it('shares the partitions under a Sluice leader and under a KafkaJS leader, and describe shows both', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('orders', { partitions: 4 });
    const settings = { groupId: 'mixed', assignor: 'RoundRobinAssigner', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 100, autoCommit: false } as const;
    const owns = async (consumer: ReturnType<Sluice['consumer']>, count: number) => (await consumer.poll({ timeoutMs: 20 })).length >= 0 && consumer.assignment().length === count;

    // The Sluice consumer leads: the KafkaJS member's join makes it rejoin and assign round robin.
    const first = sluice.consumer(settings);
    first.subscribe(['orders']);
    await waitFor('the Sluice consumer to own the four partitions', () => owns(first, 4));
    const raw = await RawClient.connect(broker.port);
    const joined = await joinAsKafkajs(raw, '');
    expect(joined.protocolName).toBe('RoundRobinAssigner');
    expect(joined.leader).not.toBe(joined.memberId);
    const synced = (await call(raw, Api.SYNC_GROUP, 'syncGroup', { groupId: 'mixed', generationId: joined.generationId, memberId: joined.memberId, assignments: [] })).syncGroup as SyncGroupResponse;
    const kafkajsShare = readAsKafkajsAssignment(Buffer.from(synced.assignment)).orders!;
    expect(kafkajsShare).toHaveLength(2);
    await waitFor('the Sluice consumer to keep the other two', () => owns(first, 2));
    expect([...partitionsOf(first.assignment()), ...kafkajsShare].sort()).toEqual([0, 1, 2, 3]);

    // People see both members, the KafkaJS one included, with their topics and partitions.
    const described = await runCli(['groups', 'describe', 'mixed', '--bootstrap', broker.bootstrap]);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/assignor RoundRobinAssigner/);
    const kafkajsLine = described.stdout.split('\n').find((line) => line.includes(joined.memberId))!;
    expect(kafkajsLine).toContain('client kafkajs: topics orders; partitions');
    for (const partition of kafkajsShare) expect(kafkajsLine).toContain(`orders/${partition}`);
    const http = await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/groups/mixed`)).json() as { members: Array<{ memberId: string; topics: string[]; assignment: Array<{ partition: number }> }> };
    expect(http.members).toHaveLength(2);
    for (const member of http.members) expect(member.topics).toEqual(['orders']);
    expect(partitionsOf(http.members.flatMap((member) => member.assignment))).toEqual([0, 1, 2, 3]);
    await first.close();

    // Now the KafkaJS member leads (the group's only member), and a new Sluice consumer takes what it assigns.
    await waitFor('the KafkaJS member to be asked to rejoin', async () => (await call(raw, Api.HEARTBEAT, 'heartbeat', { groupId: 'mixed', generationId: joined.generationId, memberId: joined.memberId })).errorCode === errorCodes.SLUICE_ERR_REBALANCE_IN_PROGRESS.wire);
    const alone = await joinAsKafkajs(raw, joined.memberId);
    expect(alone.leader).toBe(joined.memberId);
    await call(raw, Api.SYNC_GROUP, 'syncGroup', {
      groupId: 'mixed', generationId: alone.generationId, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: kafkajsAssignment({ orders: [0, 1, 2, 3] }) }],
    });
    const second = sluice.consumer(settings);
    second.subscribe(['orders']);
    await waitFor('the KafkaJS member to be asked to rejoin again', async () => (await call(raw, Api.HEARTBEAT, 'heartbeat', { groupId: 'mixed', generationId: alone.generationId, memberId: joined.memberId })).errorCode === errorCodes.SLUICE_ERR_REBALANCE_IN_PROGRESS.wire);
    const both = await joinAsKafkajs(raw, joined.memberId);
    expect(both.leader).toBe(joined.memberId);
    const sluiceMember = both.members.find((member) => member.memberId !== joined.memberId)!;
    // KafkaJS's leader reads the Sluice member's subscription.
    expect(readAsKafkajsSubscription(Buffer.from(sluiceMember.metadata))).toEqual(['orders']);
    await call(raw, Api.SYNC_GROUP, 'syncGroup', {
      groupId: 'mixed', generationId: both.generationId, memberId: joined.memberId, assignments: [
        { memberId: joined.memberId, assignment: kafkajsAssignment({ orders: [0, 2] }) },
        { memberId: sluiceMember.memberId, assignment: kafkajsAssignment({ orders: [3, 1] }) },
      ],
    });
    await waitFor('the Sluice consumer to take the partitions KafkaJS gave it', async () => (await owns(second, 2)) && partitionsOf(second.assignment()).join() === '1,3');
    raw.close();
    await second.close();
    await sluice.close();
  });
});
