/**
 * The group coordinator's state machine, written out whole: for each state and event, the
 * next state, the actions the coordinator carries out (in order) and the error the caller
 * gets, if any. The coordinator (coordinator.ts) only computes the facts an event carries
 * and performs the actions; every state change goes through `transition`.
 *
 * States are Kafka's: Empty (no members) → PreparingRebalance (members rejoin) →
 * CompletingRebalance (the leader assigns) → Stable; Dead is a group expired and forgotten.
 */
import type { ErrorCode } from '../../proto/errors.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/**
 * `completesJoin`: once the event's own change is made, every member has a JoinGroup waiting
 * and no initial delay is running, so the rebalance can complete at once.
 */
export type GroupEvent =
  /**
   * A JoinGroup from a member the group does not know (`new`), one it knows by id (`known`),
   * or one with no member id whose group instance id another member holds: a static member
   * back from a restart (`staticReplacement`; `keepsProtocol` when the group would select the
   * protocol it has now with the new instance's protocols: Kafka then rebalances nothing, even
   * though the new instance's subscription metadata differs, as it does after a restart, when it
   * no longer lists the partitions the old instance owned).
   */
  | { type: 'join'; member: 'new' | 'known' | 'staticReplacement'; keepsProtocol: boolean; completesJoin: boolean }
  | { type: 'syncFromLeader' }
  | { type: 'syncFromFollower' }
  | { type: 'heartbeat' }
  | { type: 'leave'; membersLeft: number; completesJoin: boolean }
  /** `waiting`: the member has a JoinGroup or SyncGroup waiting, so it cannot heartbeat. */
  | { type: 'sessionExpiry'; waiting: boolean; membersLeft: number; completesJoin: boolean }
  /** `rejoined`: how many members have a JoinGroup waiting. */
  | { type: 'rebalanceTimeout'; rejoined: number }
  | { type: 'initialDelayElapsed'; rejoined: number }
  | { type: 'groupExpiry' };

export type GroupAction =
  /** A new member with a new member id. */
  | 'addMember'
  /** A known member's new timeouts and protocols. */
  | 'updateMember'
  /**
   * KIP-345: the returning static instance gets a new member id and takes the old member's
   * place (its assignment, its leadership); the old id is fenced, and a JoinGroup or SyncGroup
   * it still has waiting fails with FENCED_INSTANCE_ID.
   */
  | 'replaceStaticMember'
  /** Restart the member's session clock. */
  | 'renewSession'
  /** Refuse a request from another generation with ILLEGAL_GENERATION. */
  | 'checkGeneration'
  /** The JoinGroup waits until the rebalance completes. */
  | 'awaitJoin'
  /** The JoinGroup is answered now with the current generation (no rebalance). */
  | 'answerJoin'
  /** A new group waits group.initial.rebalance.delay.ms for more members. */
  | 'startInitialDelay'
  /**
   * Every member must rejoin within the longest rebalance timeout; a SyncGroup of the old
   * generation still waiting fails with REBALANCE_IN_PROGRESS.
   */
  | 'startRebalance'
  /** Drop members that did not rejoin, start the next generation, answer every JoinGroup. */
  | 'completeJoin'
  /** Keep the leader's assignments and answer every SyncGroup waiting for them. */
  | 'storeAssignments'
  /** A follower's SyncGroup waits for the leader's. */
  | 'awaitAssignment'
  /** The SyncGroup is answered with the member's assignment. */
  | 'returnAssignment'
  /** The member is gone; a request it has waiting fails with UNKNOWN_MEMBER_ID. */
  | 'removeMember'
  | 'stopRebalanceTimer'
  /** Forget the group (its offsets are deleted by the caller). */
  | 'removeGroup';

export interface Transition {
  next: GroupState;
  actions: readonly GroupAction[];
  /** Raised to the caller after the actions. */
  error?: Extract<ErrorCode, 'SLUICE_ERR_REBALANCE_IN_PROGRESS' | 'SLUICE_ERR_UNKNOWN_MEMBER_ID'>;
}

const stay = (state: GroupState, actions: readonly GroupAction[] = []): Transition => ({ next: state, actions });
const noMember = (state: GroupState): Transition => ({ next: state, actions: [], error: 'SLUICE_ERR_UNKNOWN_MEMBER_ID' });

/** Members are rejoining: the rebalance completes now if everyone has, else it waits. */
function rebalancing(actions: readonly GroupAction[], completesJoin: boolean): Transition {
  return completesJoin ? { next: 'CompletingRebalance', actions: [...actions, 'completeJoin'] } : { next: 'PreparingRebalance', actions };
}

function unreachable(value: never): never {
  throw new Error(`unhandled group state machine case ${JSON.stringify(value)}`);
}

function onJoin(state: GroupState, event: Extract<GroupEvent, { type: 'join' }>): Transition {
  const admit: GroupAction = event.member === 'new' ? 'addMember' : event.member === 'known' ? 'updateMember' : 'replaceStaticMember';
  switch (state) {
    case 'Empty': return { next: 'PreparingRebalance', actions: [admit, 'renewSession', 'awaitJoin', 'startInitialDelay'] };
    case 'PreparingRebalance': return rebalancing([admit, 'renewSession', 'awaitJoin'], event.completesJoin);
    // Kafka rebalances here too: the leader may already hold the old member id for its assignment.
    case 'CompletingRebalance': return rebalancing([admit, 'renewSession', 'awaitJoin', 'startRebalance'], event.completesJoin);
    case 'Stable':
      if (event.member === 'staticReplacement' && event.keepsProtocol) return stay('Stable', ['replaceStaticMember', 'renewSession', 'answerJoin']);
      return rebalancing([admit, 'renewSession', 'awaitJoin', 'startRebalance'], event.completesJoin);
    // A dead group is out of the coordinator's map; a join makes a fresh Empty one instead.
    case 'Dead': return noMember(state);
    default: return unreachable(state);
  }
}

function onSync(state: GroupState, fromLeader: boolean): Transition {
  switch (state) {
    case 'Empty':
    case 'Dead':
      return noMember(state);
    case 'PreparingRebalance': return { next: state, actions: ['checkGeneration', 'renewSession'], error: 'SLUICE_ERR_REBALANCE_IN_PROGRESS' };
    case 'CompletingRebalance':
      return fromLeader
        ? { next: 'Stable', actions: ['checkGeneration', 'renewSession', 'storeAssignments', 'returnAssignment'] }
        : stay(state, ['checkGeneration', 'renewSession', 'awaitAssignment']);
    case 'Stable': return stay(state, ['checkGeneration', 'renewSession', 'returnAssignment']);
    default: return unreachable(state);
  }
}

function onHeartbeat(state: GroupState): Transition {
  switch (state) {
    case 'Empty':
    case 'Dead':
      return noMember(state);
    case 'PreparingRebalance': return { next: state, actions: ['renewSession'], error: 'SLUICE_ERR_REBALANCE_IN_PROGRESS' };
    case 'CompletingRebalance':
    case 'Stable':
      return stay(state, ['renewSession', 'checkGeneration']);
    default: return unreachable(state);
  }
}

function onDeparture(state: GroupState, event: Extract<GroupEvent, { type: 'leave' | 'sessionExpiry' }>): Transition {
  if (state === 'Empty' || state === 'Dead') return noMember(state);
  // A member waiting on a join or sync is alive: it cannot heartbeat while it waits.
  if (event.type === 'sessionExpiry' && event.waiting) return stay(state, ['renewSession']);
  if (event.membersLeft === 0) return { next: 'Empty', actions: ['removeMember', 'stopRebalanceTimer'] };
  switch (state) {
    case 'PreparingRebalance': return rebalancing(['removeMember'], event.completesJoin);
    case 'CompletingRebalance':
    case 'Stable':
      return rebalancing(['removeMember', 'startRebalance'], event.completesJoin);
    default: return unreachable(state);
  }
}

/** The rebalance timer: the initial delay of a new group, or the rebalance timeout. */
function onRebalanceTimer(state: GroupState, rejoined: number): Transition {
  switch (state) {
    case 'PreparingRebalance': return { next: rejoined === 0 ? 'Empty' : 'CompletingRebalance', actions: ['completeJoin'] };
    // A timer left from a rebalance that already completed or emptied: nothing to do.
    case 'Empty':
    case 'CompletingRebalance':
    case 'Stable':
    case 'Dead':
      return stay(state);
    default: return unreachable(state);
  }
}

function onGroupExpiry(state: GroupState): Transition {
  switch (state) {
    case 'Empty': return { next: 'Dead', actions: ['removeGroup'] };
    // A group with members is in use; it does not expire.
    case 'PreparingRebalance':
    case 'CompletingRebalance':
    case 'Stable':
    case 'Dead':
      return stay(state);
    default: return unreachable(state);
  }
}

export function transition(state: GroupState, event: GroupEvent): Transition {
  switch (event.type) {
    case 'join': return onJoin(state, event);
    case 'syncFromLeader': return onSync(state, true);
    case 'syncFromFollower': return onSync(state, false);
    case 'heartbeat': return onHeartbeat(state);
    case 'leave':
    case 'sessionExpiry':
      return onDeparture(state, event);
    case 'rebalanceTimeout':
    case 'initialDelayElapsed':
      return onRebalanceTimer(state, event.rejoined);
    case 'groupExpiry': return onGroupExpiry(state);
    default: return unreachable(event);
  }
}
