import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PartitionState } from '../../../../broker/cluster/partition-state.js';
import { LeaderState } from '../../../../broker/replication/leader-state.js';

const lag = 1000;

function stateOf(overrides: Partial<PartitionState> = {}): PartitionState {
  return {
    topic: 't', partition: 0, replicas: [0, 1, 2], isr: [0, 1, 2], leader: 0, leaderEpoch: 3, partitionEpoch: 7,
    leaderRecoveryState: 'recovered', ...overrides,
  };
}

function leader(overrides: Partial<PartitionState> = {}, options: { hw?: number; minIsr?: number; start?: number; now?: number } = {}): LeaderState {
  return new LeaderState({
    nodeId: 0, state: stateOf(overrides), leaderEpochStartOffset: options.start ?? 0, highWatermark: options.hw ?? 0,
    minInsyncReplicas: options.minIsr ?? 1, replicaLagTimeMaxMs: lag, nowMs: options.now ?? 0,
  });
}

const fetchAt = (fetchOffset: number, leaderLogEndOffset: number, nowMs: number, brokerEpoch = 5) => ({
  fetchOffset, logStartOffset: 0, brokerEpoch, leaderLogEndOffset, nowMs,
});

describe('LeaderState high watermark', () => {
  it('waits for every ISR follower to fetch once after becoming leader', () => {
    const state = leader();
    expect(state.maybeAdvanceHighWatermark(10, 1)).toBe(false);
    state.recordFetch(1, fetchAt(10, 10, 2));
    expect(state.maybeAdvanceHighWatermark(10, 2)).toBe(false);
    state.recordFetch(2, fetchAt(6, 10, 3));
    expect(state.maybeAdvanceHighWatermark(10, 3)).toBe(true);
    expect(state.highWatermark).toBe(6);
  });

  it('is frozen while the committed ISR is below the effective min ISR (KAFKA-15583)', () => {
    const state = leader({ isr: [0] }, { minIsr: 2 });
    state.recordFetch(1, fetchAt(10, 10, 1));
    expect(state.underMinIsr).toBe(true);
    expect(state.maybeAdvanceHighWatermark(10, 1)).toBe(false);
    expect(state.highWatermark).toBe(0);
  });

  it('caps min.insync.replicas by the replica count', () => {
    const state = leader({ replicas: [0], isr: [0] }, { minIsr: 3 });
    expect(state.effectiveMinIsr).toBe(1);
    expect(state.maybeAdvanceHighWatermark(4, 0)).toBe(true);
    expect(state.highWatermark).toBe(4);
  });

  it('counts a caught-up replica outside the ISR, so it is not outrun while it joins', () => {
    const state = leader({ isr: [0, 1] });
    state.recordFetch(1, fetchAt(10, 10, 1));
    state.recordFetch(2, fetchAt(10, 10, 1));
    state.maybeAdvanceHighWatermark(12, 1);
    expect(state.highWatermark).toBe(10);
  });

  it('does not count a caught-up replica outside the ISR whose broker is gone (its frozen log end would pin the high watermark)', () => {
    // Broker 2 was caught up at 10 and then died; the controller took it out of the ISR.
    const state = leader({ isr: [0, 1] });
    state.recordFetch(2, fetchAt(10, 10, 1));
    state.recordFetch(1, fetchAt(20, 20, 2));
    const alive = (id: number) => id !== 2;
    expect(state.maybeAdvanceHighWatermark(20, 2, alive)).toBe(true);
    expect(state.highWatermark).toBe(20);
  });

  it('keeps the high watermark of an earlier term', () => {
    const first = leader({}, { hw: 9 });
    const next = new LeaderState({
      nodeId: 0, state: stateOf({ leaderEpoch: 4 }), leaderEpochStartOffset: 12, highWatermark: 3, minInsyncReplicas: 1,
      replicaLagTimeMaxMs: lag, nowMs: 0, previous: first,
    });
    expect(next.highWatermark).toBe(9);
  });
});

describe('LeaderState ISR changes', () => {
  it('shrinks a follower not caught up for longer than the lag time, and keeps the old ISR as maximal while pending', () => {
    const state = leader();
    state.recordFetch(1, fetchAt(10, 10, 100));
    state.recordFetch(2, fetchAt(4, 10, 100));
    expect(state.maybeShrinkIsr(10, lag)).toBeUndefined();
    const change = state.maybeShrinkIsr(10, lag + 1);
    expect(change?.proposal.isr).toEqual([0, 1]);
    expect(change?.proposal).toMatchObject({ topic: 't', partition: 0, leaderId: 0, leaderEpoch: 3, partitionEpoch: 7 });
    expect(state.maximalIsr).toEqual([0, 1, 2]);
    expect(state.maybeShrinkIsr(10, 5000)).toBeUndefined();
    expect(state.maybeExpandIsr(2)).toBeUndefined();
    expect(state.applyOutcome({ kind: 'committed', state: stateOf({ isr: [0, 1], partitionEpoch: 8 }) })).toBe(true);
    expect(state.isr).toEqual([0, 1]);
    expect(state.partitionEpoch).toBe(8);
  });

  it('keeps a follower in sync under a trickle of produces it never exactly matches (previous-fetch clause)', () => {
    const state = leader();
    state.recordFetch(2, fetchAt(10, 10, 0));
    for (let t = 1; t <= 20; t += 1) {
      // Each fetch reaches what the leader had at the previous fetch, never the moving end.
      state.recordFetch(1, fetchAt(10 + t - 1, 10 + t, t * 400));
      state.recordFetch(2, fetchAt(10 + t, 10 + t, t * 400));
    }
    expect(state.outOfSyncReplicas(31, 20 * 400 + 1)).toEqual([]);
  });

  it('expands when the follower reaches the high watermark and the start of the epoch', () => {
    const state = leader({ isr: [0, 1] }, { start: 20, hw: 15 });
    state.recordFetch(2, fetchAt(18, 30, 1));
    expect(state.maybeExpandIsr(2)).toBeUndefined();
    state.recordFetch(2, fetchAt(20, 30, 2));
    const change = state.maybeExpandIsr(2);
    expect(change?.proposal.isr).toEqual([0, 1, 2]);
    expect(change?.proposal.brokerEpochs).toEqual({ 0: -1, 1: -1, 2: 5 });
    expect(state.maximalIsr).toEqual([0, 1, 2]);
  });

  it('does not propose an ineligible follower (fenced, shutting down, stale broker epoch)', () => {
    const state = leader({ isr: [0, 1] });
    state.recordFetch(2, fetchAt(0, 0, 1));
    expect(state.maybeExpandIsr(2, false)).toBeUndefined();
    expect(state.pending).toBeUndefined();
  });

  it('tracks a replica added by a newer state of the same epoch, and forgets a removed one', () => {
    const state = leader({ replicas: [0, 1], isr: [0, 1] });
    expect(state.applyState(stateOf({ replicas: [0, 1, 2], isr: [0, 1], partitionEpoch: 8 }))).toBe(true);
    expect(state.recordFetch(2, fetchAt(0, 0, 1))).toBe(true);
    expect(state.applyState(stateOf({ replicas: [0, 2], isr: [0], partitionEpoch: 9 }))).toBe(true);
    expect(state.follower(1)).toBeUndefined();
    expect(state.applyState(stateOf({ replicas: [0, 2], isr: [0], partitionEpoch: 9 }))).toBe(false);
  });

  it('rolls back on a rejection, retries when the store is away, waits on a stale answer', () => {
    const state = leader({ isr: [0, 1] });
    state.recordFetch(2, fetchAt(0, 0, 1));
    state.maybeExpandIsr(2);
    expect(state.applyOutcome({ kind: 'unavailable', message: 'x' })).toBe('retry');
    expect(state.applyOutcome({ kind: 'stale', message: 'x' })).toBe(false);
    expect(state.pending).toBeDefined();
    expect(state.applyOutcome({ kind: 'rejected', code: 'SLUICE_ERR_INELIGIBLE_REPLICA', message: 'x' })).toBe(true);
    expect(state.pending).toBeUndefined();
    expect(state.maximalIsr).toEqual([0, 1]);
  });

  it('ignores a committed answer for another leader epoch', () => {
    const state = leader({ isr: [0, 1] });
    state.recordFetch(2, fetchAt(0, 0, 1));
    state.maybeExpandIsr(2);
    expect(state.applyOutcome({ kind: 'committed', state: stateOf({ leaderEpoch: 4, partitionEpoch: 9 }) })).toBe(false);
    expect(state.isr).toEqual([0, 1]);
  });

  it('refuses a fetch with an older broker epoch than the follower used before', () => {
    const state = leader();
    expect(state.recordFetch(1, fetchAt(5, 5, 1, 9))).toBe(true);
    expect(state.recordFetch(1, fetchAt(7, 7, 2, 8))).toBe(false);
    expect(state.follower(1)?.logEndOffset).toBe(5);
    expect(state.recordFetch(9, fetchAt(5, 5, 1))).toBe(false);
  });
});

type Step =
  | { kind: 'append'; records: number }
  | { kind: 'fetch'; follower: number; ahead: number; dt: number }
  | { kind: 'shrink'; dt: number }
  | { kind: 'expand'; follower: number }
  | { kind: 'answer'; outcome: 'committed' | 'rejected' | 'unavailable' };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), records: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('fetch' as const), follower: fc.integer({ min: 1, max: 2 }), ahead: fc.integer({ min: 0, max: 6 }), dt: fc.integer({ min: 0, max: 700 }) }),
  fc.record({ kind: fc.constant('shrink' as const), dt: fc.integer({ min: 0, max: 1500 }) }),
  fc.record({ kind: fc.constant('expand' as const), follower: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('answer' as const), outcome: fc.constantFrom('committed' as const, 'rejected' as const, 'unavailable' as const) }),
);

describe('LeaderState properties', () => {
  it('the high watermark never moves back and never passes the lowest log end of the maximal ISR', () => {
    fc.assert(fc.property(fc.array(stepArbitrary, { maxLength: 120 }), fc.integer({ min: 1, max: 3 }), (steps, minIsr) => {
      let partitionEpoch = 7;
      const state = leader({}, { minIsr });
      let leaderEnd = 0;
      let now = 0;
      // What each follower really holds: it never fetches past the leader's end.
      const held = new Map<number, number>([[1, 0], [2, 0]]);
      for (const step of steps) {
        const before = state.highWatermark;
        switch (step.kind) {
          case 'append':
            leaderEnd += step.records;
            break;
          case 'fetch': {
            now += step.dt;
            const offset = Math.min(leaderEnd, held.get(step.follower)! + step.ahead);
            held.set(step.follower, offset);
            state.recordFetch(step.follower, fetchAt(offset, leaderEnd, now));
            state.maybeExpandIsr(step.follower);
            break;
          }
          case 'shrink':
            now += step.dt;
            state.maybeShrinkIsr(leaderEnd, now);
            break;
          case 'expand':
            state.maybeExpandIsr(step.follower);
            break;
          case 'answer': {
            const pending = state.pending;
            if (pending === undefined) break;
            if (step.outcome === 'committed') {
              partitionEpoch += 1;
              state.applyOutcome({ kind: 'committed', state: stateOf({ isr: pending.proposal.isr, partitionEpoch }) });
            } else if (step.outcome === 'rejected') {
              state.applyOutcome({ kind: 'rejected', code: 'SLUICE_ERR_INELIGIBLE_REPLICA', message: '' });
            } else {
              state.applyOutcome({ kind: 'unavailable', message: '' });
            }
            break;
          }
        }
        const moved = state.maybeAdvanceHighWatermark(leaderEnd, now);
        expect(state.highWatermark).toBeGreaterThanOrEqual(before);
        if (moved) {
          expect(state.underMinIsr).toBe(false);
          for (const id of state.maximalIsr) {
            const end = id === 0 ? leaderEnd : state.follower(id)!.logEndOffset;
            expect(state.highWatermark).toBeLessThanOrEqual(end);
            expect(state.highWatermark).toBeLessThanOrEqual(id === 0 ? leaderEnd : held.get(id)!);
          }
        }
        expect(state.isr).toContain(0);
        expect(state.maximalIsr.length).toBeGreaterThanOrEqual(state.isr.length);
      }
    }), { numRuns: 300 });
  });
});
