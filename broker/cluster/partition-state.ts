/**
 * The facts the cluster agrees on, as the metadata store (etcd in a cluster, the data
 * directory on a single broker) holds them and every broker acts on them. One value per
 * partition, changed only as a whole by a compare-and-swap, so a leader election or an ISR
 * change is one atomic step (REPLICATION-FACTS.md §I).
 */
import type { ErrorCode } from '../../proto/errors.js';

export type LeaderRecoveryState = 'recovered' | 'recovering';

export interface PartitionState {
  topic: string;
  partition: number;
  /** Assigned replicas; replicas[0] is the preferred leader. */
  replicas: number[];
  /** In-sync replicas. Never empty: when the last member is lost it stays, with leader −1. */
  isr: number[];
  /** −1: no leader (offline). */
  leader: number;
  /** Bumped by every change that sets a leader. */
  leaderEpoch: number;
  /** Bumped by every accepted change. */
  partitionEpoch: number;
  /** 'recovering' after an unclean election, until the new leader's ISR may grow again. */
  leaderRecoveryState: LeaderRecoveryState;
}

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack?: string;
  /** Changes with every registration (etcd: the create revision of the broker's key). */
  brokerEpoch: number;
}

/** A leader's request to change its partition's ISR (Kafka's AlterPartition). */
export interface IsrProposal {
  topic: string;
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  isr: number[];
  /** Broker epoch of each proposed member as the leader saw it in their fetches (−1: unknown). */
  brokerEpochs: Record<number, number>;
  /** A recovering leader (after an unclean election) sets 'recovered' once it may grow the ISR; absent: unchanged. */
  leaderRecoveryState?: LeaderRecoveryState;
}

export type AlterPartitionOutcome =
  /** Written: the new state (ISR and partitionEpoch) to adopt. */
  | { kind: 'committed'; state: PartitionState }
  /** Refused for good (INELIGIBLE_REPLICA): go back to the last committed ISR, do not retry. */
  | { kind: 'rejected'; code: 'SLUICE_ERR_INELIGIBLE_REPLICA' | 'SLUICE_ERR_INVALID_REQUEST'; message: string }
  /** The state moved on (new leader epoch or partition epoch): wait for the new state to arrive. */
  | { kind: 'stale'; message: string; code?: ErrorCode }
  /** The store did not answer (etcd away): keep the proposal pending and retry later. */
  | { kind: 'unavailable'; message: string; code?: ErrorCode };

/** What the replication layer needs from the metadata store. */
export interface PartitionStateWriter {
  alterPartition(proposal: IsrProposal): Promise<AlterPartitionOutcome>;
}
