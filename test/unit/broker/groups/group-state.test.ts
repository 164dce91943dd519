/**
 * The coordinator's transition table on its own: every state × event has an answer, Dead is
 * final, stale timers do nothing, and only an Empty group expires. The behaviour behind each
 * transition is exercised through the coordinator in coordinator.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type GroupEvent, type GroupState, transition } from '../../../../broker/groups/group-state.js';

const states: GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];
const events: GroupEvent[] = [
  { type: 'join', member: 'new', keepsProtocol: false, completesJoin: false },
  { type: 'join', member: 'known', keepsProtocol: false, completesJoin: true },
  { type: 'join', member: 'staticReplacement', keepsProtocol: true, completesJoin: false },
  { type: 'syncFromLeader' },
  { type: 'syncFromFollower' },
  { type: 'heartbeat' },
  { type: 'leave', membersLeft: 0, completesJoin: true },
  { type: 'leave', membersLeft: 2, completesJoin: false },
  { type: 'sessionExpiry', waiting: false, membersLeft: 1, completesJoin: true },
  { type: 'sessionExpiry', waiting: true, membersLeft: 1, completesJoin: true },
  { type: 'rebalanceTimeout', rejoined: 0 },
  { type: 'rebalanceTimeout', rejoined: 2 },
  { type: 'initialDelayElapsed', rejoined: 1 },
  { type: 'groupExpiry' },
];

describe('group state transition table', () => {
  it('answers every state × event with a known state', () => {
    for (const state of states) for (const event of events) expect(states).toContain(transition(state, event).next);
  });

  it('keeps Dead final: member events are refused, nothing else happens', () => {
    for (const event of events) {
      const step = transition('Dead', event);
      expect(step.next).toBe('Dead');
      expect(step.actions).toEqual([]);
    }
    expect(transition('Dead', { type: 'heartbeat' }).error).toBe('SLUICE_ERR_UNKNOWN_MEMBER_ID');
  });

  it('ignores a rebalance timer that fires outside PreparingRebalance', () => {
    for (const state of ['Empty', 'CompletingRebalance', 'Stable'] as const) {
      expect(transition(state, { type: 'rebalanceTimeout', rejoined: 1 })).toEqual({ next: state, actions: [] });
      expect(transition(state, { type: 'initialDelayElapsed', rejoined: 1 })).toEqual({ next: state, actions: [] });
    }
  });

  it('expires only an Empty group', () => {
    expect(transition('Empty', { type: 'groupExpiry' })).toEqual({ next: 'Dead', actions: ['removeGroup'] });
    for (const state of ['PreparingRebalance', 'CompletingRebalance', 'Stable'] as const) expect(transition(state, { type: 'groupExpiry' })).toEqual({ next: state, actions: [] });
  });

  it('replaces a static member without a rebalance only in a Stable group whose protocol it keeps', () => {
    const rejoin = (keepsProtocol: boolean): GroupEvent => ({ type: 'join', member: 'staticReplacement', keepsProtocol, completesJoin: false });
    expect(transition('Stable', rejoin(true))).toEqual({ next: 'Stable', actions: ['replaceStaticMember', 'renewSession', 'answerJoin'] });
    expect(transition('Stable', rejoin(false)).next).toBe('PreparingRebalance');
    expect(transition('CompletingRebalance', rejoin(true)).actions).toContain('startRebalance');
    expect(transition('PreparingRebalance', rejoin(true)).actions[0]).toBe('replaceStaticMember');
  });

  it('checks the generation before anything else a sync does', () => {
    for (const state of ['PreparingRebalance', 'CompletingRebalance', 'Stable'] as const) {
      expect(transition(state, { type: 'syncFromLeader' }).actions[0]).toBe('checkGeneration');
      expect(transition(state, { type: 'syncFromFollower' }).actions[0]).toBe('checkGeneration');
    }
  });
});
