/**
 * The group coordinator, in process with fake timers: one test per transition of the table in
 * broker/groups/group-state.ts (state × event → next state and actions), driven through the
 * coordinator's public calls, plus static-member fencing (KIP-345) and timeout bounds.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCoordinator } from '../../../../broker/groups/coordinator.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../../../../proto/messages.js';

const delayMs = 100;
const sessionTimeoutMs = 10_000;
const rebalanceTimeoutMs = 5000;
let coordinator: GroupCoordinator;

beforeEach(() => {
  vi.useFakeTimers();
  coordinator = new GroupCoordinator({ initialRebalanceDelayMs: delayMs });
});
afterEach(() => {
  coordinator.close();
  vi.useRealTimers();
});

const joinRequest = (overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest => ({
  groupId: 'g', sessionTimeoutMs, rebalanceTimeoutMs, memberId: '', protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('orders') }], ...overrides,
});

const state = () => coordinator.describe('g')?.state;

/** 'pending', or how the promise settled, once queued microtasks have run. */
async function outcome(promise: Promise<unknown>): Promise<'pending' | 'resolved' | string> {
  let result = 'pending';
  promise.then(() => { result = 'resolved'; }, (error: { code?: string }) => { result = error.code ?? 'rejected'; });
  await vi.advanceTimersByTimeAsync(0);
  return result;
}

interface Joined {
  memberId: string;
  generationId: number;
  leader: boolean;
}

const joined = (response: JoinGroupResponse): Joined => ({ memberId: response.memberId, generationId: response.generationId, leader: response.leader === response.memberId });

/** Members that join an empty group together and wait out its initial delay. */
async function joinTogether(requests: JoinGroupRequest[]): Promise<Joined[]> {
  const pending = requests.map((request) => coordinator.join(request, 'client'));
  await vi.advanceTimersByTimeAsync(delayMs);
  return (await Promise.all(pending)).map(joined);
}

/** Everyone syncs; the leader hands out `assignment-<index>`. */
async function syncAll(members: Joined[]): Promise<Buffer[]> {
  const leader = members.find((member) => member.leader)!;
  const followers = members.filter((member) => !member.leader).map((member) => coordinator.sync({ groupId: 'g', generationId: member.generationId, memberId: member.memberId, assignments: [] }));
  const mine = coordinator.sync({
    groupId: 'g', generationId: leader.generationId, memberId: leader.memberId,
    assignments: members.map((member, index) => ({ memberId: member.memberId, assignment: Buffer.from(`assignment-${index}`) })),
  });
  await Promise.all([mine, ...followers]);
  return Promise.all(members.map((member) => coordinator.sync({ groupId: 'g', generationId: member.generationId, memberId: member.memberId, assignments: [] })));
}

async function stableGroup(count: number, overrides: Array<Partial<JoinGroupRequest>> = []): Promise<Joined[]> {
  const members = await joinTogether(Array.from({ length: count }, (_, index) => joinRequest(overrides[index])));
  await syncAll(members);
  expect(state()).toBe('Stable');
  return members;
}

const heartbeat = (member: Joined) => () => coordinator.heartbeat('g', member.generationId, member.memberId);

describe('join', () => {
  it('Empty → PreparingRebalance: the first member waits out the initial delay', async () => {
    const first = coordinator.join(joinRequest(), 'client');
    expect(state()).toBe('PreparingRebalance');
    await vi.advanceTimersByTimeAsync(delayMs - 1);
    expect(await outcome(first)).toBe('pending');
  });

  it('PreparingRebalance (initial delay) → stays: later joiners land in the same first generation', async () => {
    const first = coordinator.join(joinRequest(), 'a');
    await vi.advanceTimersByTimeAsync(delayMs / 2);
    const second = coordinator.join(joinRequest(), 'b');
    expect(state()).toBe('PreparingRebalance');
    expect(await outcome(second)).toBe('pending');
    await vi.advanceTimersByTimeAsync(delayMs / 2);
    const responses = await Promise.all([first, second]);
    expect(responses.map((response) => response.generationId)).toEqual([1, 1]);
    expect(state()).toBe('CompletingRebalance');
  });

  it('PreparingRebalance → CompletingRebalance when the last member rejoins; stays while one is missing', async () => {
    const [a, b, c] = await stableGroup(3);
    const newcomer = coordinator.join(joinRequest(), 'd');
    expect(state()).toBe('PreparingRebalance');
    const rejoins = [a!, b!].map((member) => coordinator.join(joinRequest({ memberId: member.memberId }), 'client'));
    expect(state()).toBe('PreparingRebalance');
    expect(await outcome(rejoins[0]!)).toBe('pending');
    rejoins.push(coordinator.join(joinRequest({ memberId: c!.memberId }), 'client'));
    expect(state()).toBe('CompletingRebalance');
    const generations = (await Promise.all([newcomer, ...rejoins])).map((response) => response.generationId);
    expect(generations).toEqual([2, 2, 2, 2]);
  });

  it('CompletingRebalance → PreparingRebalance: a follower waiting for its assignment must rejoin', async () => {
    const [a, b] = await joinTogether([joinRequest(), joinRequest()]);
    const follower = [a!, b!].find((member) => !member.leader)!;
    const waiting = coordinator.sync({ groupId: 'g', generationId: follower.generationId, memberId: follower.memberId, assignments: [] });
    coordinator.join(joinRequest(), 'newcomer').catch(() => {});
    expect(state()).toBe('PreparingRebalance');
    expect(await outcome(waiting)).toBe('SLUICE_ERR_REBALANCE_IN_PROGRESS');
  });

  it('Stable → PreparingRebalance on a new member: the others learn it from their heartbeats', async () => {
    const [a] = await stableGroup(2);
    coordinator.join(joinRequest(), 'newcomer').catch(() => {});
    expect(state()).toBe('PreparingRebalance');
    expect(heartbeat(a!)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_REBALANCE_IN_PROGRESS' }));
  });

  it('Stable → CompletingRebalance at once when the only member rejoins', async () => {
    const [a] = await stableGroup(1);
    const again = coordinator.join(joinRequest({ memberId: a!.memberId }), 'client');
    expect(state()).toBe('CompletingRebalance');
    expect((await again).generationId).toBe(a!.generationId + 1);
  });

  it('refuses a second assignor the members do not share', async () => {
    await stableGroup(1);
    expect(() => coordinator.join(joinRequest({ protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }] }), 'x'))
      .toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL' }));
  });
});

describe('static members (KIP-345)', () => {
  const statics = [{ groupInstanceId: 'instance-a' }, { groupInstanceId: 'instance-b' }];

  it('Stable → Stable: a restarted instance gets a new member id and the old assignment; the old id is fenced everywhere', async () => {
    const [a, b] = await stableGroup(2, statics);
    const assignmentOfA = (await coordinator.sync({ groupId: 'g', generationId: a!.generationId, memberId: a!.memberId, assignments: [] })).toString();
    const restarted = await coordinator.join(joinRequest({ groupInstanceId: 'instance-a' }), 'client');
    expect(restarted.memberId).not.toBe(a!.memberId);
    expect(restarted.generationId).toBe(a!.generationId);
    expect(state()).toBe('Stable');
    expect(coordinator.describe('g')!.members.map((member) => member.memberId).sort()).toEqual([b!.memberId, restarted.memberId].sort());
    expect((await coordinator.sync({ groupId: 'g', generationId: restarted.generationId, memberId: restarted.memberId, assignments: [] })).toString()).toBe(assignmentOfA);
    if (a!.leader) expect(restarted.leader).toBe(restarted.memberId);

    const fenced = expect.objectContaining({ code: 'SLUICE_ERR_FENCED_INSTANCE_ID' });
    expect(heartbeat(a!)).toThrow(fenced);
    expect(() => coordinator.checkCommit('g', a!.generationId, a!.memberId)).toThrow(fenced);
    expect(() => coordinator.sync({ groupId: 'g', generationId: a!.generationId, memberId: a!.memberId, assignments: [] })).toThrow(fenced);
    expect(() => coordinator.join(joinRequest({ memberId: a!.memberId, groupInstanceId: 'instance-a' }), 'client')).toThrow(fenced);
    expect(() => coordinator.leave('g', a!.memberId)).toThrow(fenced);
    // The replacement and the other member go on undisturbed.
    expect(heartbeat({ ...restarted, memberId: restarted.memberId, leader: false })).not.toThrow();
    expect(() => coordinator.checkCommit('g', restarted.generationId, restarted.memberId)).not.toThrow();
    expect(heartbeat(b!)).not.toThrow();
    expect(state()).toBe('Stable');
  });

  it('Stable → Stable when the restarted instance\'s subscription metadata differs but the group keeps its protocol (as Kafka)', async () => {
    const [a, b] = await stableGroup(2, statics);
    // A restart no longer lists the partitions the old instance owned; that alone is no reason to rebalance.
    const restarted = await coordinator.join(joinRequest({ groupInstanceId: 'instance-a', protocols: [{ name: 'range', metadata: Buffer.from('orders,owned:0,2,4') }] }), 'client');
    expect(state()).toBe('Stable');
    expect(restarted.generationId).toBe(a!.generationId);
    expect(heartbeat(b!)).not.toThrow();
    // The new metadata is what the leader sees at the next rebalance.
    const described = coordinator.describe('g')!.members.find((member) => member.memberId === restarted.memberId)!;
    expect(described.metadata.toString()).toBe('orders,owned:0,2,4');
  });

  it('Stable → PreparingRebalance when the restarted leader\'s protocols change the group\'s protocol', async () => {
    const both = [{ name: 'range', metadata: Buffer.from('orders') }, { name: 'roundrobin', metadata: Buffer.from('orders') }];
    const [a, b] = await stableGroup(2, statics.map((member) => ({ ...member, protocols: both })));
    const leader = a!.leader ? a! : b!;
    const restarted = coordinator.join(joinRequest({ groupInstanceId: leader === a ? 'instance-a' : 'instance-b', protocols: [...both].reverse() }), 'client');
    expect(state()).toBe('PreparingRebalance');
    expect(heartbeat(leader)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_FENCED_INSTANCE_ID' }));
    const other = leader === a ? b! : a!;
    coordinator.join(joinRequest({ memberId: other.memberId, groupInstanceId: leader === a ? 'instance-b' : 'instance-a', protocols: both }), 'client').catch(() => {});
    const response = await restarted;
    expect(response.memberId).not.toBe(leader.memberId);
    expect(response.generationId).toBe(leader.generationId + 1);
    expect(response.protocolName).toBe('roundrobin');
  });

  it('PreparingRebalance: the old instance\'s waiting join fails with FENCED_INSTANCE_ID and the new one takes its place', async () => {
    const [a, b] = await stableGroup(2, statics);
    const oldRejoin = coordinator.join(joinRequest({ memberId: a!.memberId, groupInstanceId: 'instance-a' }), 'client');
    expect(state()).toBe('PreparingRebalance');
    const restarted = coordinator.join(joinRequest({ groupInstanceId: 'instance-a' }), 'client');
    expect(await outcome(oldRejoin)).toBe('SLUICE_ERR_FENCED_INSTANCE_ID');
    const other = coordinator.join(joinRequest({ memberId: b!.memberId, groupInstanceId: 'instance-b' }), 'client');
    expect(state()).toBe('CompletingRebalance');
    const [mine] = await Promise.all([restarted, other]);
    expect(coordinator.describe('g')!.members.map((member) => member.memberId)).toContain(mine.memberId);
    expect(coordinator.describe('g')!.members.map((member) => member.memberId)).not.toContain(a!.memberId);
  });

  it('CompletingRebalance → PreparingRebalance: the old instance\'s waiting sync fails with FENCED_INSTANCE_ID', async () => {
    const [a, b] = await joinTogether([joinRequest(statics[0]), joinRequest(statics[1])]);
    const follower = [a!, b!].find((member) => !member.leader)!;
    const waiting = coordinator.sync({ groupId: 'g', generationId: follower.generationId, memberId: follower.memberId, assignments: [] });
    const instanceId = follower === a ? 'instance-a' : 'instance-b';
    coordinator.join(joinRequest({ groupInstanceId: instanceId }), 'client').catch(() => {});
    expect(state()).toBe('PreparingRebalance');
    expect(await outcome(waiting)).toBe('SLUICE_ERR_FENCED_INSTANCE_ID');
  });
});

describe('sync', () => {
  it('PreparingRebalance → stays, REBALANCE_IN_PROGRESS', async () => {
    const [a] = await stableGroup(2);
    coordinator.join(joinRequest(), 'newcomer').catch(() => {});
    expect(() => coordinator.sync({ groupId: 'g', generationId: a!.generationId, memberId: a!.memberId, assignments: [] }))
      .toThrow(expect.objectContaining({ code: 'SLUICE_ERR_REBALANCE_IN_PROGRESS' }));
    expect(state()).toBe('PreparingRebalance');
  });

  it('CompletingRebalance → stays for a follower (it waits), → Stable for the leader (everyone is answered)', async () => {
    const members = await joinTogether([joinRequest(), joinRequest()]);
    const follower = members.find((member) => !member.leader)!;
    const leader = members.find((member) => member.leader)!;
    const waiting = coordinator.sync({ groupId: 'g', generationId: follower.generationId, memberId: follower.memberId, assignments: [] });
    expect(state()).toBe('CompletingRebalance');
    expect(await outcome(waiting)).toBe('pending');
    const leaderAssignment = await coordinator.sync({
      groupId: 'g', generationId: leader.generationId, memberId: leader.memberId,
      assignments: [{ memberId: leader.memberId, assignment: Buffer.from('p0') }, { memberId: follower.memberId, assignment: Buffer.from('p1') }],
    });
    expect(state()).toBe('Stable');
    expect(leaderAssignment.toString()).toBe('p0');
    expect((await waiting).toString()).toBe('p1');
  });

  it('Stable → stays: answers the member\'s assignment; another generation gets ILLEGAL_GENERATION', async () => {
    const [a] = await stableGroup(2);
    expect((await coordinator.sync({ groupId: 'g', generationId: a!.generationId, memberId: a!.memberId, assignments: [] })).toString()).toMatch(/^assignment-/);
    expect(() => coordinator.sync({ groupId: 'g', generationId: a!.generationId - 1, memberId: a!.memberId, assignments: [] }))
      .toThrow(expect.objectContaining({ code: 'SLUICE_ERR_ILLEGAL_GENERATION' }));
    expect(state()).toBe('Stable');
  });

  it('from a member the group does not have: UNKNOWN_MEMBER_ID', () => {
    expect(() => coordinator.sync({ groupId: 'g', generationId: 0, memberId: 'nobody', assignments: [] }))
      .toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNKNOWN_MEMBER_ID' }));
  });
});

describe('heartbeat', () => {
  it('PreparingRebalance → stays, REBALANCE_IN_PROGRESS (and the session is renewed)', async () => {
    const [a, b] = await stableGroup(2);
    coordinator.join(joinRequest({ memberId: b!.memberId }), 'client').catch(() => {});
    await vi.advanceTimersByTimeAsync(rebalanceTimeoutMs - 1);
    expect(heartbeat(a!)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_REBALANCE_IN_PROGRESS' }));
    expect(state()).toBe('PreparingRebalance');
  });

  it('CompletingRebalance and Stable → stay; a wrong generation gets ILLEGAL_GENERATION', async () => {
    const members = await joinTogether([joinRequest(), joinRequest()]);
    expect(state()).toBe('CompletingRebalance');
    expect(heartbeat(members[0]!)).not.toThrow();
    await syncAll(members);
    expect(heartbeat(members[0]!)).not.toThrow();
    expect(() => coordinator.heartbeat('g', 99, members[0]!.memberId)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_ILLEGAL_GENERATION' }));
    expect(state()).toBe('Stable');
  });

  it('for a group the coordinator does not know: UNKNOWN_MEMBER_ID', () => {
    expect(() => coordinator.heartbeat('nobody', 1, 'm')).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNKNOWN_MEMBER_ID' }));
  });
});

describe('leave', () => {
  it('Stable → Empty when the last member leaves', async () => {
    const [a] = await stableGroup(1);
    const now = Date.now();
    coordinator.leave('g', a!.memberId);
    expect(state()).toBe('Empty');
    expect(coordinator.emptySince('g')).toBe(now);
  });

  it('Stable → PreparingRebalance when others remain', async () => {
    const [a] = await stableGroup(2);
    coordinator.leave('g', a!.memberId);
    expect(state()).toBe('PreparingRebalance');
  });

  it('PreparingRebalance → CompletingRebalance when the one member not yet rejoined leaves', async () => {
    const [a, b] = await stableGroup(2);
    const rejoin = coordinator.join(joinRequest({ memberId: a!.memberId }), 'client');
    expect(state()).toBe('PreparingRebalance');
    coordinator.leave('g', b!.memberId);
    expect(state()).toBe('CompletingRebalance');
    expect((await rejoin).members.map((member) => member.memberId)).toEqual([a!.memberId]);
  });

  it('CompletingRebalance → PreparingRebalance when a member leaves', async () => {
    const [a] = await joinTogether([joinRequest(), joinRequest(), joinRequest()]);
    coordinator.leave('g', a!.memberId);
    expect(state()).toBe('PreparingRebalance');
  });
});

describe('session expiry', () => {
  it('Stable → PreparingRebalance when a silent member\'s session ends', async () => {
    const [a, b] = await stableGroup(2);
    for (let elapsed = 0; elapsed < sessionTimeoutMs; elapsed += 1000) {
      await vi.advanceTimersByTimeAsync(1000);
      if (state() === 'Stable') heartbeat(a!)();
    }
    expect(state()).toBe('PreparingRebalance');
    expect(coordinator.describe('g')!.members.map((member) => member.memberId)).toEqual([a!.memberId]);
    expect(() => coordinator.heartbeat('g', b!.generationId, b!.memberId)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNKNOWN_MEMBER_ID' }));
  });

  it('Stable → Empty when the last member falls silent', async () => {
    await stableGroup(1);
    await vi.advanceTimersByTimeAsync(sessionTimeoutMs);
    expect(state()).toBe('Empty');
  });

  it('stays for a member waiting on its sync: it cannot heartbeat while it waits', async () => {
    const members = await joinTogether([joinRequest(), joinRequest()]);
    const follower = members.find((member) => !member.leader)!;
    const leader = members.find((member) => member.leader)!;
    const waiting = coordinator.sync({ groupId: 'g', generationId: follower.generationId, memberId: follower.memberId, assignments: [] });
    for (let elapsed = 0; elapsed < 2 * sessionTimeoutMs; elapsed += 1000) {
      await vi.advanceTimersByTimeAsync(1000);
      heartbeat(leader)();
    }
    expect(state()).toBe('CompletingRebalance');
    expect(await outcome(waiting)).toBe('pending');
  });
});

describe('rebalance timeout', () => {
  it('PreparingRebalance → CompletingRebalance: a member that did not rejoin in time is dropped', async () => {
    const [a, b] = await stableGroup(2);
    const rejoin = coordinator.join(joinRequest({ memberId: a!.memberId }), 'client');
    await vi.advanceTimersByTimeAsync(rebalanceTimeoutMs - 1);
    expect(state()).toBe('PreparingRebalance');
    await vi.advanceTimersByTimeAsync(1);
    expect(state()).toBe('CompletingRebalance');
    expect((await rejoin).members.map((member) => member.memberId)).toEqual([a!.memberId]);
    expect(() => coordinator.heartbeat('g', b!.generationId, b!.memberId)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNKNOWN_MEMBER_ID' }));
  });

  it('PreparingRebalance → Empty when nobody rejoined', async () => {
    const [a] = await stableGroup(3);
    const generation = a!.generationId;
    coordinator.join(joinRequest({ memberId: a!.memberId }), 'client').catch(() => {});
    coordinator.leave('g', a!.memberId);
    expect(state()).toBe('PreparingRebalance');
    await vi.advanceTimersByTimeAsync(rebalanceTimeoutMs);
    expect(state()).toBe('Empty');
    expect(coordinator.describe('g')!.generationId).toBe(generation + 1);
    expect(coordinator.describe('g')!.members).toEqual([]);
  });
});

describe('initial delay elapsed', () => {
  it('PreparingRebalance → CompletingRebalance with every member that joined meanwhile, leader first to join', async () => {
    const first = coordinator.join(joinRequest(), 'a');
    const second = coordinator.join(joinRequest(), 'b');
    await vi.advanceTimersByTimeAsync(delayMs);
    expect(state()).toBe('CompletingRebalance');
    const [one, two] = await Promise.all([first, second]);
    expect(one.leader).toBe(one.memberId);
    expect(one.members.map((member) => member.memberId)).toEqual([one.memberId, two.memberId]);
    expect(two.members).toEqual([]);
  });
});

describe('group expiry', () => {
  it('Empty → Dead: the group is forgotten', async () => {
    const [a] = await stableGroup(1);
    coordinator.leave('g', a!.memberId);
    expect(coordinator.expire('g')).toBe(true);
    expect(coordinator.describe('g')).toBeUndefined();
  });

  it('a group with members stays', async () => {
    await stableGroup(1);
    expect(coordinator.expire('g')).toBe(false);
    expect(state()).toBe('Stable');
  });
});

describe('client-supplied timeouts', () => {
  it('refuses rebalance timeouts that setTimeout cannot keep, or that are 0', () => {
    for (const rebalance of [0, 2 ** 31, 2 ** 32 - 1, 30 * 60 * 1000 + 1]) {
      expect(() => coordinator.join(joinRequest({ rebalanceTimeoutMs: rebalance }), 'client')).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_REQUEST' }));
    }
    expect(coordinator.describe('g')).toBeUndefined();
  });

  it('refuses session timeouts outside 1 s..30 min', () => {
    for (const session of [0, 999, 30 * 60 * 1000 + 1, 2 ** 32 - 1]) {
      expect(() => coordinator.join(joinRequest({ sessionTimeoutMs: session }), 'client')).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_SESSION_TIMEOUT' }));
    }
  });

  it('keeps a member that has not rejoined for the whole of the longest allowed rebalance timeout', async () => {
    const [a, b] = await stableGroup(2, [{ rebalanceTimeoutMs: 30 * 60 * 1000, sessionTimeoutMs: 30 * 60 * 1000 }, { rebalanceTimeoutMs: 30 * 60 * 1000, sessionTimeoutMs: 30 * 60 * 1000 }]);
    coordinator.join(joinRequest({ memberId: a!.memberId, rebalanceTimeoutMs: 30 * 60 * 1000, sessionTimeoutMs: 30 * 60 * 1000 }), 'client').catch(() => {});
    await vi.advanceTimersByTimeAsync(29 * 60 * 1000);
    expect(state()).toBe('PreparingRebalance');
    expect(coordinator.describe('g')!.members.map((member) => member.memberId)).toContain(b!.memberId);
  });

  it('refuses an initial rebalance delay setTimeout cannot keep', () => {
    expect(() => new GroupCoordinator({ initialRebalanceDelayMs: 2 ** 31 })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
  });
});

describe('closing the coordinator', () => {
  it('answers a join still waiting for the initial delay, and refuses new joins and syncs', async () => {
    const waiting = coordinator.join(joinRequest(), 'c1');
    expect(await outcome(waiting)).toBe('pending');
    coordinator.close();
    expect(await outcome(waiting)).toBe('SLUICE_ERR_BROKER_SHUTTING_DOWN');
    expect(() => coordinator.join(joinRequest(), 'c2')).toThrow(/stopping/);
    expect(() => coordinator.sync({ groupId: 'g', generationId: 1, memberId: 'x', assignments: [] })).toThrow(/stopping/);
  });
});
