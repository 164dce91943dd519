/**
 * Static membership (KIP-345) against a real broker: an instance that rejoins with its group
 * instance id gets a new member id and its old place without a rebalance, and the process it
 * replaced (a zombie) is fenced: its heartbeats, commits and syncs get FENCED_INSTANCE_ID, and
 * a zombie consumer stops with that error instead of sharing the partitions. JoinGroup
 * timeouts that a timer cannot hold are refused.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { errorCodes } from '../../proto/errors.js';
import { Api, type JoinGroupResponse, type ResponseEnvelope } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupBrokers);

let correlationId = 0;

async function call(raw: RawClient, api: number, field: string, body: unknown): Promise<ResponseEnvelope> {
  correlationId += 1;
  const expected = raw.responses.length + 1;
  raw.send(encodeRequest({ api, version: 1, correlationId, clientId: 'raw', [field]: body }));
  const response = await raw.response(expected);
  expect(response?.correlationId).toBe(correlationId);
  return response!;
}

const joinBody = (overrides: Record<string, unknown> = {}) => ({
  groupId: 'static', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '', groupInstanceId: 'instance-a',
  protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('{}') }], ...overrides,
});

describe('static group members', () => {
  it('give a rejoining instance a new member id and fence the old one on heartbeat, sync and commit', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('t', { partitions: 1 });
    const raw = await RawClient.connect(broker.port);
    const first = (await call(raw, Api.JOIN_GROUP, 'joinGroup', joinBody())).joinGroup as JoinGroupResponse;
    const assignment = Buffer.from(JSON.stringify({ partitions: [{ topic: 't', partition: 0 }], followUp: false }));
    await call(raw, Api.SYNC_GROUP, 'syncGroup', { groupId: 'static', generationId: first.generationId, memberId: first.memberId, assignments: [{ memberId: first.memberId, assignment }] });

    const second = (await call(raw, Api.JOIN_GROUP, 'joinGroup', joinBody())).joinGroup as JoinGroupResponse;
    expect(second.memberId).not.toBe(first.memberId);
    expect(second.generationId).toBe(first.generationId);
    const synced = await call(raw, Api.SYNC_GROUP, 'syncGroup', { groupId: 'static', generationId: second.generationId, memberId: second.memberId, assignments: [] });
    expect(Buffer.from((synced.syncGroup as { assignment: Uint8Array }).assignment)).toEqual(assignment);

    const fenced = errorCodes.SLUICE_ERR_FENCED_INSTANCE_ID.wire;
    expect(fenced).toBe(82);
    expect((await call(raw, Api.HEARTBEAT, 'heartbeat', { groupId: 'static', generationId: first.generationId, memberId: first.memberId })).errorCode).toBe(fenced);
    const commit = (memberId: string) => call(raw, Api.OFFSET_COMMIT, 'offsetCommit', {
      groupId: 'static', generationId: first.generationId, memberId, topics: [{ name: 't', partitions: [{ partition: 0, offset: 1 }] }],
    });
    const zombieCommit = await commit(first.memberId);
    expect(zombieCommit.errorCode).toBe(fenced);
    expect(zombieCommit.errorMessage).toMatch(/replaced by a newer instance/);
    expect((await call(raw, Api.SYNC_GROUP, 'syncGroup', { groupId: 'static', generationId: first.generationId, memberId: first.memberId, assignments: [] })).errorCode).toBe(fenced);
    expect((await call(raw, Api.HEARTBEAT, 'heartbeat', { groupId: 'static', generationId: second.generationId, memberId: second.memberId })).errorCode).toBe(0);
    expect((await commit(second.memberId)).errorCode).toBe(0);
    expect((await sluice.admin().describeGroup('static')).memberDetails.map((member) => member.memberId)).toEqual([second.memberId]);
    raw.close();
    await sluice.close();
  });

  it('stop a zombie consumer with FENCED_INSTANCE_ID while its replacement keeps the partitions', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('jobs', { partitions: 2 });
    const options = { groupId: 'workers', groupInstanceId: 'worker-1', sessionTimeoutMs: 5000, heartbeatIntervalMs: 100, autoCommit: false };
    const zombie = sluice.consumer(options);
    zombie.subscribe(['jobs']);
    await waitFor('the first instance to own both partitions', async () => (await zombie.poll({ timeoutMs: 50 })).length >= 0 && zombie.assignment().length === 2, 10_000);
    const replacement = sluice.consumer(options);
    replacement.subscribe(['jobs']);
    await waitFor('the replacement to own both partitions', async () => (await replacement.poll({ timeoutMs: 50 })).length >= 0 && replacement.assignment().length === 2, 10_000);
    let failure: unknown;
    await waitFor('the zombie to be fenced', async () => {
      try {
        await zombie.poll({ timeoutMs: 50 });
        return false;
      } catch (error) {
        failure = error;
        return true;
      }
    }, 10_000);
    expect(failure).toMatchObject({ code: 'SLUICE_ERR_FENCED_INSTANCE_ID' });
    await expect(zombie.commit([{ topic: 'jobs', partition: 0, offset: 0 }])).rejects.toMatchObject({ code: 'SLUICE_ERR_FENCED_INSTANCE_ID' });
    await replacement.commit([{ topic: 'jobs', partition: 0, offset: 0 }]);
    const group = await sluice.admin().describeGroup('workers');
    expect(group.state).toBe('Stable');
    expect(group.memberDetails).toHaveLength(1);
    await replacement.close();
    await zombie.close().catch(() => {});
    await sluice.close();
  });

  it('refuse a rebalance timeout a timer cannot hold, and a zero one', async () => {
    const broker = await startBroker();
    const raw = await RawClient.connect(broker.port);
    for (const rebalanceTimeoutMs of [0, 2 ** 32 - 1]) {
      const response = await call(raw, Api.JOIN_GROUP, 'joinGroup', joinBody({ groupId: 'timeouts', rebalanceTimeoutMs, groupInstanceId: '' }));
      expect(response.errorCode).toBe(errorCodes.SLUICE_ERR_INVALID_REQUEST.wire);
      expect(response.errorMessage).toMatch(/rebalance timeout \d+ ms is outside 1000\.\.1800000/);
    }
    raw.close();
  });
});
