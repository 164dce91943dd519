/**
 * Replica placement for a new topic, Kafka's rack-unaware assignment: the first replica of
 * partition p goes to broker (start + p) mod n, so leaders go round-robin over the brokers, and
 * the followers follow at a shift that grows every n partitions, so replicas spread evenly.
 */
import { SluiceError } from '../../proto/errors.js';

export interface PlacementStart {
  /** Index of the broker that gets partition 0's first replica. */
  startIndex: number;
  /** Offset of the second replica from the first. */
  replicaShift: number;
}

export function randomStart(brokerCount: number): PlacementStart {
  return { startIndex: Math.floor(Math.random() * brokerCount), replicaShift: Math.floor(Math.random() * brokerCount) };
}

function replicaIndex(first: number, shift: number, j: number, n: number): number {
  return (first + 1 + ((shift + j) % (n - 1))) % n;
}

/** replicas[p] for p in 0..partitions−1; throws INVALID_REPLICATION_FACTOR / INVALID_PARTITIONS. */
export function assignReplicas(brokerIds: readonly number[], partitions: number, replicationFactor: number, start?: PlacementStart): number[][] {
  const brokers = [...brokerIds].sort((a, b) => a - b);
  const n = brokers.length;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new SluiceError('SLUICE_ERR_INVALID_PARTITIONS', `a topic needs at least one partition, got ${partitions}`);
  }
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > n) {
    throw new SluiceError('SLUICE_ERR_INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} needs between 1 and ${n} live brokers (${n} alive)`);
  }
  const { startIndex, replicaShift } = start ?? randomStart(n);
  let shift = replicaShift;
  const assignment: number[][] = [];
  for (let p = 0; p < partitions; p += 1) {
    if (p > 0 && p % n === 0) shift += 1;
    const first = (p + startIndex) % n;
    const replicas = [brokers[first]!];
    for (let j = 0; j < replicationFactor - 1; j += 1) replicas.push(brokers[replicaIndex(first, shift, j, n)]!);
    assignment.push(replicas);
  }
  return assignment;
}
