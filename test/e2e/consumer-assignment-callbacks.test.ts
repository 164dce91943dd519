/**
 * What a subscriber is told on assignment: with cooperative-sticky, a member joining a group
 * whose partitions are all owned first gets an empty assignment marked followUp (the hand-over
 * round comes next), then its partitions with followUp false.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

afterAll(cleanupBrokers);

describe('assignment callbacks', () => {
  it('marks the empty assignment before a cooperative hand-over as followUp', async () => {
    const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('handover', { partitions: 4 });
    const seen: Array<{ who: string; partitions: number; followUp: boolean }> = [];
    const join = (who: string) => {
      const consumer = sluice.consumer({ groupId: 'handing', sessionTimeoutMs: 3000, heartbeatIntervalMs: 100 });
      consumer.subscribe(['handover'], { onAssigned: (assignment, _added, followUp) => { seen.push({ who, partitions: assignment.length, followUp }); } });
      return consumer;
    };
    const first = join('first');
    await waitFor('the first member to own all four partitions', () => seen.some((entry) => entry.who === 'first' && entry.partitions === 4), 15_000);
    const second = join('second');
    await waitFor('the second member to own two partitions', () => seen.some((entry) => entry.who === 'second' && entry.partitions === 2), 15_000);
    const secondSeen = seen.filter((entry) => entry.who === 'second');
    expect(secondSeen[0]).toEqual({ who: 'second', partitions: 0, followUp: true });
    expect(secondSeen.at(-1)).toEqual({ who: 'second', partitions: 2, followUp: false });

    await second.close();
    await first.close();
    await sluice.close();
  });
});
