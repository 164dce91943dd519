import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cooperativeStickyAssign, type MemberSubscription, rangeAssign, roundRobinAssign, type TopicPartition,
} from '../../../../client/groups/assignors.js';

const names = (partitions: TopicPartition[] | undefined) => (partitions ?? []).map((entry) => `${entry.topic}-${entry.partition}`);

/** Every subscribed partition goes to exactly one member that subscribes to its topic. */
function expectComplete(assignment: Map<string, TopicPartition[]>, members: MemberSubscription[], partitionsPerTopic: Map<string, number>): void {
  const seen = new Map<string, string>();
  for (const [memberId, partitions] of assignment) {
    const member = members.find((candidate) => candidate.memberId === memberId)!;
    for (const entry of partitions) {
      expect(member.topics).toContain(entry.topic);
      expect(seen.has(`${entry.topic}-${entry.partition}`)).toBe(false);
      seen.set(`${entry.topic}-${entry.partition}`, memberId);
    }
  }
  const subscribed = new Set(members.flatMap((member) => member.topics));
  const expected = [...partitionsPerTopic].filter(([topic]) => subscribed.has(topic)).reduce((total, [, count]) => total + count, 0);
  expect(seen.size).toBe(expected);
}

describe('range', () => {
  it('gives members contiguous ranges per topic, the first ones an extra partition', () => {
    const members = [{ memberId: 'c1', topics: ['t0', 't1'] }, { memberId: 'c0', topics: ['t0', 't1'] }];
    const { assignment } = rangeAssign(members, new Map([['t0', 3], ['t1', 3]]));
    expect(names(assignment.get('c0'))).toEqual(['t0-0', 't0-1', 't1-0', 't1-1']);
    expect(names(assignment.get('c1'))).toEqual(['t0-2', 't1-2']);
  });
});

describe('roundrobin', () => {
  it('deals sorted partitions to members in turn', () => {
    const members = [{ memberId: 'c0', topics: ['t0', 't1'] }, { memberId: 'c1', topics: ['t0', 't1'] }];
    const { assignment } = roundRobinAssign(members, new Map([['t0', 3], ['t1', 3]]));
    expect(names(assignment.get('c0'))).toEqual(['t0-0', 't0-2', 't1-1']);
    expect(names(assignment.get('c1'))).toEqual(['t0-1', 't1-0', 't1-2']);
  });
});

describe('cooperative-sticky', () => {
  const twelve = new Map([['orders', 12]]);

  it('on a join, revokes only what must move and hands it over in the follow-up round', () => {
    const first = cooperativeStickyAssign(['a', 'b', 'c'].map((memberId) => ({ memberId, topics: ['orders'] })), twelve);
    expect(first.followUp).toBe(false);
    const owned = (memberId: string) => first.assignment.get(memberId)!;
    // d joins: round one takes partitions away from a, b and c, gives d nothing yet, moves nothing else.
    const members = (ownedOf: (memberId: string) => TopicPartition[]) => ['a', 'b', 'c', 'd'].map((memberId) => ({ memberId, topics: ['orders'], owned: ownedOf(memberId) }));
    const round1 = cooperativeStickyAssign(members((memberId) => (memberId === 'd' ? [] : owned(memberId))), twelve);
    expect(round1.followUp).toBe(true);
    expect(round1.assignment.get('d')).toEqual([]);
    for (const memberId of ['a', 'b', 'c']) {
      const kept = names(round1.assignment.get(memberId));
      expect(kept).toHaveLength(3);
      for (const name of kept) expect(names(owned(memberId))).toContain(name);
    }
    // Round two: the revoked partitions go to d; nobody else changes.
    const round2 = cooperativeStickyAssign(members((memberId) => round1.assignment.get(memberId)!), twelve);
    expect(round2.followUp).toBe(false);
    expect(round2.assignment.get('d')).toHaveLength(3);
    for (const memberId of ['a', 'b', 'c']) expect(round2.assignment.get(memberId)).toEqual(round1.assignment.get(memberId));
    expectComplete(round2.assignment, members(() => []), twelve);
  });

  it('on a leave, hands the departed member\'s partitions out without moving any other', () => {
    const start = cooperativeStickyAssign(['a', 'b', 'c'].map((memberId) => ({ memberId, topics: ['orders'] })), twelve).assignment;
    const after = cooperativeStickyAssign(['a', 'b'].map((memberId) => ({ memberId, topics: ['orders'], owned: start.get(memberId)! })), twelve);
    expect(after.followUp).toBe(false);
    for (const memberId of ['a', 'b']) {
      for (const name of names(start.get(memberId))) expect(names(after.assignment.get(memberId))).toContain(name);
      expect(after.assignment.get(memberId)).toHaveLength(6);
    }
  });

  it('assigns every partition once and stays balanced for any membership (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 31 }),
      (memberCount, partitions, seed) => {
        const perTopic = new Map([['t', partitions]]);
        const members = Array.from({ length: memberCount }, (_, index) => ({ memberId: `m${(index * 7 + seed) % 97}-${index}`, topics: ['t'] }));
        // Owned partitions from some earlier, arbitrary assignment.
        const previous = roundRobinAssign(members, new Map([['t', partitions]])).assignment;
        const shifted = members.map((member, index) => ({ ...member, owned: previous.get(members[(index + seed) % members.length]!.memberId)! }));
        let round = cooperativeStickyAssign(shifted, perTopic);
        for (let step = 0; step < 3 && round.followUp; step += 1) {
          round = cooperativeStickyAssign(members.map((member) => ({ ...member, owned: round.assignment.get(member.memberId)! })), perTopic);
        }
        expect(round.followUp).toBe(false);
        expectComplete(round.assignment, members, perTopic);
        const sizes = [...round.assignment.values()].map((entry) => entry.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      },
    ), { seed: 5, numRuns: 300 });
  });

  it('balances a join whatever the remainder, revoking only what the newcomer needs (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 120 }), (memberCount, partitions) => {
      const perTopic = new Map([['t', partitions]]);
      const ids = Array.from({ length: memberCount + 1 }, (_, index) => `m${String(index).padStart(2, '0')}`);
      const before = cooperativeStickyAssign(ids.slice(0, memberCount).map((memberId) => ({ memberId, topics: ['t'] })), perTopic).assignment;
      let owned = (memberId: string) => before.get(memberId) ?? [];
      let round = cooperativeStickyAssign(ids.map((memberId) => ({ memberId, topics: ['t'], owned: owned(memberId) })), perTopic);
      let revoked = 0;
      for (let step = 0; step < 3; step += 1) {
        for (const memberId of ids) revoked += owned(memberId).filter((entry) => !round.assignment.get(memberId)!.some((kept) => kept.partition === entry.partition)).length;
        if (!round.followUp) break;
        const current = round.assignment;
        owned = (memberId: string) => current.get(memberId)!;
        round = cooperativeStickyAssign(ids.map((memberId) => ({ memberId, topics: ['t'], owned: owned(memberId) })), perTopic);
      }
      expect(round.followUp).toBe(false);
      const sizes = [...round.assignment.values()].map((entry) => entry.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      // The newcomer's share is all that moves.
      expect(revoked).toBe(round.assignment.get(ids[memberCount]!)!.length);
    }), { seed: 7, numRuns: 300 });
  });

  it('respects differing subscriptions', () => {
    const members = [{ memberId: 'a', topics: ['x'] }, { memberId: 'b', topics: ['x', 'y'] }];
    const perTopic = new Map([['x', 2], ['y', 4]]);
    const { assignment } = cooperativeStickyAssign(members, perTopic);
    expectComplete(assignment, members, perTopic);
    expect(names(assignment.get('a')).every((name) => name.startsWith('x-'))).toBe(true);
  });
});

describe('range and roundrobin cover every partition once', () => {
  it('for random memberships and subscriptions (property)', () => {
    fc.assert(fc.property(fc.array(fc.subarray(['a', 'b', 'c'], { minLength: 1 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 3, maxLength: 3 }), (subscriptions, counts) => {
      const members = subscriptions.map((topics, index) => ({ memberId: `m${index}`, topics }));
      const perTopic = new Map([['a', counts[0]!], ['b', counts[1]!], ['c', counts[2]!]]);
      expectComplete(rangeAssign(members, perTopic).assignment, members, perTopic);
      expectComplete(roundRobinAssign(members, perTopic).assignment, members, perTopic);
    }), { seed: 6, numRuns: 300 });
  });
});
