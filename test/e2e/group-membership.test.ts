/**
 * Group membership with real brokers and consumers: three members split twelve partitions
 * with each partition owned by exactly one member; a fourth joins and the assignment
 * rebalances; with cooperative-sticky, partitions that keep their owner are never revoked;
 * a member that leaves hands its partitions to the others; commits are fenced by generation;
 * the admin API, the HTTP API and the CLI show members, and offsets are not reset under them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../client/consumer.js';
import type { TopicPartition } from '../../client/groups/assignors.js';
import { errorCodes } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupBrokers);

const name = (entry: TopicPartition) => `${entry.topic}-${entry.partition}`;

interface Member {
  id: string;
  consumer: Consumer;
  owned: Set<string>;
  revoked: string[];
}

describe('consumer group membership', () => {
  it('splits partitions, rebalances on join and leave, and never revokes partitions that stay (cooperative-sticky)', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '300'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('work', { partitions: 12 });
    const members: Member[] = [];
    const join = (id: string) => {
      const consumer = sluice.consumer({ groupId: 'workers', autoOffsetReset: 'earliest', sessionTimeoutMs: 3000, heartbeatIntervalMs: 200 });
      const member: Member = { id, consumer, owned: new Set(), revoked: [] };
      consumer.subscribe(['work'], {
        onAssigned: (_assignment, added) => { for (const entry of added) member.owned.add(name(entry)); },
        onRevoked: (revoked) => {
          for (const entry of revoked) {
            member.owned.delete(name(entry));
            member.revoked.push(name(entry));
          }
        },
      });
      members.push(member);
      return member;
    };
    const ownership = () => members.flatMap((member) => [...member.owned]);
    const settled = (count: number) => {
      const owned = ownership();
      return owned.length === 12 && new Set(owned).size === 12 && members.slice(0, count).every((member) => member.owned.size === 12 / count);
    };

    for (const id of ['a', 'b', 'c']) join(id);
    await waitFor('three members to own four partitions each', () => settled(3), 20_000);
    const before = new Map(members.map((member) => [member.id, new Set(member.owned)]));

    join('d');
    await waitFor('four members to own three partitions each', () => settled(4), 20_000);
    for (const member of members.slice(0, 3)) {
      // Only partitions that moved away were revoked; everything kept was never paused.
      for (const revoked of member.revoked) expect(member.owned.has(revoked)).toBe(false);
      for (const kept of member.owned) expect(before.get(member.id)!.has(kept)).toBe(true);
      expect(member.revoked).toHaveLength(1);
    }

    const leaving = members.splice(3, 1)[0]!;
    await leaving.consumer.close();
    await waitFor('three members to own the twelve partitions again', () => settled(3), 20_000);

    // People see the members and their partitions; offsets cannot be reset under live members.
    const described = await sluice.admin().describeGroup('workers');
    expect(described.memberDetails).toHaveLength(3);
    expect(described.memberDetails.flatMap((member) => member.partitions)).toHaveLength(12);
    const http = await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/groups/workers`)).json() as { state: string; members: unknown[] };
    expect(http).toMatchObject({ state: 'Stable' });
    expect(http.members).toHaveLength(3);
    const reset = await runCli(['groups', 'reset-offsets', 'workers', '--topic', 'work', '--to-earliest', '--bootstrap', broker.bootstrap]);
    expect(reset.code).not.toBe(0);
    expect(reset.stderr).toMatch(/3 live members/);
    // A commit from an older generation is fenced.
    const raw = await RawClient.connect(broker.port);
    raw.send(encodeRequest({
      api: Api.OFFSET_COMMIT, version: 1, correlationId: 1, clientId: 'stale',
      offsetCommit: { groupId: 'workers', generationId: described.generationId - 1, memberId: described.memberDetails[0]!.memberId, topics: [{ name: 'work', partitions: [{ partition: 0, offset: 0 }] }] },
    }));
    expect(await raw.response(1)).toMatchObject({ errorCode: errorCodes.SLUICE_ERR_ILLEGAL_GENERATION.wire });
    raw.close();

    expect(await sluice.admin().findCoordinator('workers')).toMatchObject({ nodeId: 0, host: '127.0.0.1', port: broker.port });
    const groups = await sluice.admin().listGroups();
    expect(groups.find((group) => group.groupId === 'workers')).toMatchObject({ state: 'Stable', members: 3 });
    for (const member of members) await member.consumer.close();
    await sluice.close();
  });

  it('subscribes by pattern and uses the eager range assignor when asked to', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '200'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    for (const topic of ['metrics-cpu', 'metrics-disk', 'logs']) await sluice.admin().createTopic(topic, { partitions: 2 });
    const owned = [new Set<string>(), new Set<string>()];
    const consumers = owned.map((mine) => {
      const consumer = sluice.consumer({ groupId: 'pattern', assignor: 'range', sessionTimeoutMs: 3000, heartbeatIntervalMs: 200 });
      consumer.subscribe(/^metrics-/, {
        onAssigned: (assignment) => {
          mine.clear();
          for (const entry of assignment) mine.add(name(entry));
        },
      });
      return consumer;
    });
    await waitFor('both members to own two metrics partitions', () => owned.every((mine) => mine.size === 2) && new Set([...owned[0]!, ...owned[1]!]).size === 4, 15_000);
    expect([...owned[0]!, ...owned[1]!].sort()).toEqual(['metrics-cpu-0', 'metrics-cpu-1', 'metrics-disk-0', 'metrics-disk-1']);
    for (const consumer of consumers) await consumer.close();
    await sluice.close();
  });
});
