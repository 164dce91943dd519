/**
 * Leader election decisions, Kafka's rules (REPLICATION-FACTS.md §J) as pure functions of a
 * partition state and the live brokers: what the controller writes when a broker goes away,
 * starts a controlled shutdown or comes back, and what ElectLeaders does.
 */
import type { ErrorCode } from '../../proto/errors.js';
import type { PartitionState } from './partition-state.js';
import type { BrokerRegistration } from './records.js';

export type LiveBrokers = ReadonlyMap<number, BrokerRegistration>;

/** Registered and not in controlled shutdown: may lead and may stay in an ISR. */
export function isAcceptable(nodeId: number, brokers: LiveBrokers): boolean {
  const broker = brokers.get(nodeId);
  return broker !== undefined && !broker.shuttingDown;
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** A new state from a leader/ISR decision: partition epoch always +1, leader epoch +1 when the leader changes. */
function changed(state: PartitionState, leader: number, isr: number[], recovering: boolean): PartitionState {
  return {
    ...state,
    leader,
    isr,
    leaderEpoch: leader !== state.leader ? state.leaderEpoch + 1 : state.leaderEpoch,
    partitionEpoch: state.partitionEpoch + 1,
    leaderRecoveryState: recovering ? 'recovering' : state.leader !== leader ? 'recovered' : state.leaderRecoveryState,
  };
}

/**
 * The ISR without members that are gone or shutting down. It never becomes empty (no ELR):
 * when every member is gone, the one kept is the current leader if it was a member (it holds
 * everything committed), else the last listed.
 */
export function liveIsr(state: PartitionState, brokers: LiveBrokers): number[] {
  const kept = state.isr.filter((id) => isAcceptable(id, brokers));
  if (kept.length > 0) return kept;
  if (state.isr.includes(state.leader)) return [state.leader];
  return state.isr.length > 0 ? [state.isr[state.isr.length - 1]!] : [];
}

/**
 * What the controller does to a partition whose brokers changed (ONLINE election, §J): drop
 * departed members from the ISR, keep the leader if it is still valid, else the first replica
 * in replicas[] order that is in the ISR, else (only with unclean election) the first live
 * replica with ISR = [it] and RECOVERING, else leader −1. Null when nothing changes.
 */
export function onlineElection(state: PartitionState, brokers: LiveBrokers, uncleanEnabled: boolean): PartitionState | null {
  const isr = liveIsr(state, brokers);
  const valid = (id: number) => isr.includes(id) && isAcceptable(id, brokers);
  let leader = -1;
  let recovering = false;
  if (state.leader !== -1 && valid(state.leader)) leader = state.leader;
  else {
    const clean = state.replicas.find(valid);
    if (clean !== undefined) leader = clean;
    else if (uncleanEnabled) {
      const unclean = state.replicas.find((id) => isAcceptable(id, brokers));
      if (unclean !== undefined) {
        leader = unclean;
        recovering = true;
      }
    }
  }
  const nextIsr = recovering ? [leader] : isr;
  if (leader === state.leader && sameMembers(nextIsr, state.isr)) return null;
  return changed(state, leader, nextIsr, recovering);
}

export type ElectionOutcome =
  | { kind: 'elected'; state: PartitionState; unclean: boolean }
  | { kind: 'refused'; code: ErrorCode; message: string };

/** PREFERRED (ElectLeaders type 0): replicas[0] if it is live and in the ISR. */
export function preferredElection(state: PartitionState, brokers: LiveBrokers): ElectionOutcome {
  const preferred = state.replicas[0];
  const where = `${state.topic}-${state.partition}`;
  if (preferred === undefined) return { kind: 'refused', code: 'SLUICE_ERR_PREFERRED_LEADER_NOT_AVAILABLE', message: `${where} has no replicas` };
  if (state.leader === preferred) return { kind: 'refused', code: 'SLUICE_ERR_ELECTION_NOT_NEEDED', message: `broker ${preferred} already leads ${where}` };
  if (!isAcceptable(preferred, brokers) || !state.isr.includes(preferred)) {
    return { kind: 'refused', code: 'SLUICE_ERR_PREFERRED_LEADER_NOT_AVAILABLE', message: `preferred replica ${preferred} of ${where} is not alive or not in sync` };
  }
  return { kind: 'elected', state: changed(state, preferred, state.isr, false), unclean: false };
}

/** UNCLEAN (ElectLeaders type 1): only for a partition without a valid leader; an ISR member first, else any live replica. */
export function uncleanElection(state: PartitionState, brokers: LiveBrokers): ElectionOutcome {
  const where = `${state.topic}-${state.partition}`;
  if (state.leader !== -1 && isAcceptable(state.leader, brokers)) {
    return { kind: 'refused', code: 'SLUICE_ERR_ELECTION_NOT_NEEDED', message: `${where} has a leader (${state.leader})` };
  }
  const next = onlineElection(state, brokers, true);
  if (next === null || next.leader === -1) {
    return { kind: 'refused', code: 'SLUICE_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE', message: `no replica of ${where} is alive` };
  }
  return { kind: 'elected', state: next, unclean: next.leaderRecoveryState === 'recovering' && !state.isr.includes(next.leader) };
}

/** Partitions whose preferred replica could lead but does not: what automatic rebalancing fixes. */
export function isImbalanced(state: PartitionState, brokers: LiveBrokers): boolean {
  return preferredElection(state, brokers).kind === 'elected';
}
