/**
 * Kafka's AlterPartition validation (REPLICATION-FACTS.md §I), in its order, as a pure function
 * of the stored state, the proposal and the live registrations. The caller writes the result
 * with a compare-and-swap on exactly what it validated against.
 */
import type { ErrorCode } from '../../proto/errors.js';
import type { IsrProposal, PartitionState } from './partition-state.js';
import type { LiveBrokers } from './election.js';

export type IsrDecision =
  | { ok: true; state: PartitionState }
  | { ok: false; code: ErrorCode; message: string };

function refuse(code: ErrorCode, message: string): IsrDecision {
  return { ok: false, code, message };
}

export function validateAlterPartition(stored: PartitionState | undefined, proposal: IsrProposal, brokers: LiveBrokers): IsrDecision {
  const where = `${proposal.topic}-${proposal.partition}`;
  if (stored === undefined) return refuse('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `${where} does not exist`);
  if (proposal.leaderEpoch > stored.leaderEpoch || proposal.partitionEpoch > stored.partitionEpoch) {
    return refuse('SLUICE_ERR_NOT_CONTROLLER', `${where}: the proposal (leader epoch ${proposal.leaderEpoch}, partition epoch ${proposal.partitionEpoch}) is ahead of the store (${stored.leaderEpoch}, ${stored.partitionEpoch})`);
  }
  if (proposal.leaderEpoch < stored.leaderEpoch) {
    return refuse('SLUICE_ERR_FENCED_LEADER_EPOCH', `${where}: leader epoch ${proposal.leaderEpoch} is older than ${stored.leaderEpoch}`);
  }
  if (proposal.leaderId !== stored.leader) {
    return refuse('SLUICE_ERR_INVALID_REQUEST', `${where}: broker ${proposal.leaderId} is not the leader (${stored.leader})`);
  }
  if (proposal.partitionEpoch < stored.partitionEpoch) {
    return refuse('SLUICE_ERR_INVALID_UPDATE_VERSION', `${where}: partition epoch ${proposal.partitionEpoch} is older than ${stored.partitionEpoch}`);
  }
  const isr = proposal.isr;
  if (new Set(isr).size !== isr.length || !isr.every((id) => stored.replicas.includes(id)) || !isr.includes(stored.leader)) {
    return refuse('SLUICE_ERR_INVALID_REQUEST', `${where}: ISR [${isr.join(',')}] must be distinct replicas of [${stored.replicas.join(',')}] including the leader ${stored.leader}`);
  }
  const recovery = proposal.leaderRecoveryState ?? stored.leaderRecoveryState;
  if (recovery === 'recovering' && isr.length > 1) {
    return refuse('SLUICE_ERR_INVALID_REQUEST', `${where}: a recovering leader cannot grow the ISR beyond itself`);
  }
  if (stored.leaderRecoveryState === 'recovered' && recovery === 'recovering') {
    return refuse('SLUICE_ERR_INVALID_REQUEST', `${where}: a recovered partition cannot go back to recovering`);
  }
  for (const id of isr) {
    const broker = brokers.get(id);
    const proposedEpoch = proposal.brokerEpochs[id] ?? -1;
    if (broker === undefined) return refuse('SLUICE_ERR_INELIGIBLE_REPLICA', `${where}: broker ${id} is not registered`);
    if (broker.shuttingDown) return refuse('SLUICE_ERR_INELIGIBLE_REPLICA', `${where}: broker ${id} is shutting down`);
    if (proposedEpoch !== -1 && proposedEpoch !== broker.brokerEpoch) {
      return refuse('SLUICE_ERR_INELIGIBLE_REPLICA', `${where}: broker ${id} has epoch ${broker.brokerEpoch}, the proposal saw ${proposedEpoch}`);
    }
  }
  return { ok: true, state: { ...stored, isr: [...isr], partitionEpoch: stored.partitionEpoch + 1, leaderRecoveryState: recovery } };
}
