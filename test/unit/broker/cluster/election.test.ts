import { describe, expect, it } from 'vitest';
import { isImbalanced, liveIsr, onlineElection, preferredElection, uncleanElection } from '../../../../broker/cluster/election.js';
import { brokers, state } from './helpers.js';

describe('online election (a broker left, shut down or came back)', () => {
  it('changes nothing while every ISR member is alive', () => {
    expect(onlineElection(state(), brokers(1, 2, 3), false)).toBeNull();
  });

  it('elects the next ISR member in replicas[] order when the leader is gone, bumping both epochs', () => {
    const next = onlineElection(state({ replicas: [1, 3, 2], isr: [2, 3, 1] }), brokers(2, 3), false)!;
    expect(next).toMatchObject({ leader: 3, isr: [2, 3], leaderEpoch: 6, partitionEpoch: 10, leaderRecoveryState: 'recovered' });
  });

  it('only shrinks the ISR (leader epoch unchanged) when a follower is gone', () => {
    expect(onlineElection(state(), brokers(1, 3), false)).toMatchObject({ leader: 1, isr: [1, 3], leaderEpoch: 5, partitionEpoch: 10 });
  });

  it('never elects a replica outside the ISR when unclean election is off: leader −1, ISR keeps its last member', () => {
    const next = onlineElection(state({ isr: [1] }), brokers(2, 3), false)!;
    expect(next).toMatchObject({ leader: -1, isr: [1], leaderEpoch: 6, partitionEpoch: 10 });
  });

  it('keeps the old leader in the ISR when all members go at once', () => {
    expect(liveIsr(state({ isr: [2, 1, 3], leader: 1 }), brokers())).toEqual([1]);
    expect(liveIsr(state({ isr: [2, 3], leader: -1 }), brokers())).toEqual([3]);
  });

  it('with unclean election on, the first live replica leads alone and recovering', () => {
    const next = onlineElection(state({ isr: [1] }), brokers(3, 2), true)!;
    expect(next).toMatchObject({ leader: 2, isr: [2], leaderRecoveryState: 'recovering', leaderEpoch: 6 });
  });

  it('gives a leaderless partition its ISR member back when it registers again', () => {
    const offline = state({ isr: [1], leader: -1, leaderEpoch: 6, partitionEpoch: 10 });
    expect(onlineElection(offline, brokers(2, 3), false)).toBeNull();
    expect(onlineElection(offline, brokers(1, 2), false)).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 7, partitionEpoch: 11 });
  });

  it('treats a broker in controlled shutdown as gone: leadership moves, it leaves the ISR', () => {
    const next = onlineElection(state(), brokers([1, { shuttingDown: true }], 2, 3), false)!;
    expect(next).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 6 });
    expect(onlineElection(state({ isr: [1] }), brokers([1, { shuttingDown: true }], 2), false)).toMatchObject({ leader: -1, isr: [1] });
  });
});

describe('preferred and unclean elections (ElectLeaders)', () => {
  it('moves leadership back to replicas[0] when it is alive and in sync', () => {
    const outcome = preferredElection(state({ leader: 2 }), brokers(1, 2, 3));
    expect(outcome).toMatchObject({ kind: 'elected', state: { leader: 1, leaderEpoch: 6, partitionEpoch: 10 } });
    expect(isImbalanced(state({ leader: 2 }), brokers(1, 2, 3))).toBe(true);
  });

  it('answers ELECTION_NOT_NEEDED and PREFERRED_LEADER_NOT_AVAILABLE', () => {
    expect(preferredElection(state(), brokers(1, 2, 3))).toMatchObject({ kind: 'refused', code: 'SLUICE_ERR_ELECTION_NOT_NEEDED' });
    expect(preferredElection(state({ leader: 2, isr: [2, 3] }), brokers(1, 2, 3))).toMatchObject({ kind: 'refused', code: 'SLUICE_ERR_PREFERRED_LEADER_NOT_AVAILABLE' });
    expect(preferredElection(state({ leader: 2 }), brokers(2, 3))).toMatchObject({ kind: 'refused', code: 'SLUICE_ERR_PREFERRED_LEADER_NOT_AVAILABLE' });
    expect(isImbalanced(state({ leader: 2 }), brokers(2, 3))).toBe(false);
  });

  it('unclean: not needed with a live leader, a stale replica without one, none when nobody is alive', () => {
    expect(uncleanElection(state(), brokers(1, 2, 3))).toMatchObject({ kind: 'refused', code: 'SLUICE_ERR_ELECTION_NOT_NEEDED' });
    expect(uncleanElection(state({ leader: -1, isr: [1] }), brokers(3))).toMatchObject({ kind: 'elected', unclean: true, state: { leader: 3, isr: [3], leaderRecoveryState: 'recovering' } });
    expect(uncleanElection(state({ leader: -1, isr: [1] }), brokers())).toMatchObject({ kind: 'refused', code: 'SLUICE_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE' });
  });
});
