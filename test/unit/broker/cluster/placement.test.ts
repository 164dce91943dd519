import { describe, expect, it } from 'vitest';
import { assignReplicas } from '../../../../broker/cluster/placement.js';

describe('replica placement (Kafka rack-unaware)', () => {
  it('matches Kafka for 5 brokers, 10 partitions, factor 3 from index 0 with shift 0', () => {
    // The worked example in the comment of Kafka's AdminUtils.assignReplicasToBrokersRackUnaware.
    expect(assignReplicas([0, 1, 2, 3, 4], 10, 3, { startIndex: 0, replicaShift: 0 })).toEqual([
      [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
      [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
    ]);
  });

  it('spreads leaders round-robin and replicas evenly, distinct per partition', () => {
    const assignment = assignReplicas([3, 1, 2], 6, 3);
    const leaders = new Map<number, number>();
    const replicas = new Map<number, number>();
    for (const set of assignment) {
      expect(new Set(set).size).toBe(3);
      leaders.set(set[0]!, (leaders.get(set[0]!) ?? 0) + 1);
      for (const id of set) replicas.set(id, (replicas.get(id) ?? 0) + 1);
    }
    expect([...leaders.values()]).toEqual([2, 2, 2]);
    expect([...replicas.values()]).toEqual([6, 6, 6]);
  });

  it('refuses a replication factor above the live brokers, and no partitions', () => {
    expect(() => assignReplicas([1, 2], 1, 3)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_REPLICATION_FACTOR' }));
    expect(() => assignReplicas([1, 2], 1, 0)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_REPLICATION_FACTOR' }));
    expect(() => assignReplicas([1, 2], 0, 1)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_PARTITIONS' }));
  });
});
