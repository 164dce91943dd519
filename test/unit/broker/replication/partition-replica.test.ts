/**
 * The Partition's replica state on real logs: the self-led default (high watermark = log end
 * after every append, consumers woken by appends), a replicated leader (high watermark from
 * follower fetches, acks=all waiters, ISR proposals), a follower, and the epoch checks (§E).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionState } from '../../../../broker/cluster/partition-state.js';
import type { PendingIsrChange } from '../../../../broker/replication/leader-state.js';
import type { Partition, ReplicationHooks } from '../../../../broker/topics/partition.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { SluiceError } from '../../../../proto/errors.js';
import { testBatch } from '../../../helpers/batches.js';

let directory: string;
let manager: TopicManager;
beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-partition-'));
  manager = new TopicManager(directory, {}, () => {});
  manager.open();
});
afterEach(() => {
  manager.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

function stateOf(overrides: Partial<PartitionState> = {}): PartitionState {
  return { topic: 't', partition: 0, replicas: [0, 1], isr: [0, 1], leader: 0, leaderEpoch: 2, partitionEpoch: 5, leaderRecoveryState: 'recovered', ...overrides };
}

function hooks(now: { ms: number }, proposals: PendingIsrChange[] = []): ReplicationHooks {
  return {
    proposeIsr: (_partition, change) => proposals.push(change), nowMs: () => now.ms, replicaLagTimeMaxMs: 1000,
    brokerEpochOf: (nodeId) => (nodeId === 1 ? 1 : undefined),
    isrEligible: (nodeId) => nodeId === 1,
  };
}

function append(partition: Partition, n: number) {
  const appended = partition.log.append(testBatch(n), { verified: true, leaderEpoch: partition.leaderEpoch });
  partition.notifyAppend(1);
  return appended;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return SluiceError.is(error) ? error.code : 'not a SluiceError';
  }
  return undefined;
}

describe('Partition replica state', () => {
  it('self-led by default: leader 0, epoch 0, high watermark at the log end after each append, consumers woken by appends', () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    expect(partition).toMatchObject({ role: 'leader', leaderId: 0, leaderEpoch: 0, replicas: [0], isr: [0] });
    let woken = 0;
    partition.onHighWatermark(() => { woken += 1; });
    append(partition, 0);
    expect(partition.highWatermark).toBe(partition.log.logEndOffset);
    expect(woken).toBe(1);
    expect(partition.waitForReplication(9, 1000)).toBeNull();
  });

  it('keeps the self-led high watermark (its log end) when it becomes a replicated leader', () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    append(partition, 0);
    partition.becomeLeader(stateOf(), 0, hooks({ ms: 0 }));
    expect(partition.highWatermark).toBe(10);
    expect(partition.log.leaderEpochs.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }]);
  });

  it('a replicated leader moves its high watermark with follower fetches and completes acks=all waiters', async () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    const now = { ms: 0 };
    partition.becomeLeader(stateOf(), 0, hooks(now));
    let woken = 0;
    partition.onHighWatermark(() => { woken += 1; });
    const appended = append(partition, 0);
    expect(partition.highWatermark).toBe(0);
    expect(woken).toBe(0);
    const waiting = partition.waitForReplication(appended.lastOffset, 10_000)!;
    partition.recordFollowerFetch(1, { fetchOffset: 0, logStartOffset: 0, brokerEpoch: 1, leaderLogEndOffset: 10 });
    expect(partition.highWatermark).toBe(0);
    partition.recordFollowerFetch(1, { fetchOffset: 10, logStartOffset: 0, brokerEpoch: 1, leaderLogEndOffset: 10 });
    expect(partition.highWatermark).toBe(10);
    expect(woken).toBe(1);
    expect(await waiting).toBeNull();
    expect(partition.delayedProduceCount).toBe(0);
  });

  it('ignores a follower fetch carrying an older broker epoch than the registered one', () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    partition.becomeLeader(stateOf(), 0, hooks({ ms: 0 }));
    append(partition, 0);
    expect(partition.recordFollowerFetch(1, { fetchOffset: 10, logStartOffset: 0, brokerEpoch: 0, leaderLogEndOffset: 10 })).toBe(false);
    expect(partition.highWatermark).toBe(0);
    expect(partition.recordFollowerFetch(1, { fetchOffset: 10, logStartOffset: 0, brokerEpoch: 1, leaderLogEndOffset: 10 })).toBe(true);
    expect(partition.highWatermark).toBe(10);
  });

  it('refuses acks=all below min.insync.replicas, and the high watermark stays put', () => {
    const partition = manager.create('t', 1, { 'min.insync.replicas': '2' })!.partitions[0]!;
    partition.becomeLeader(stateOf({ isr: [0] }), 0, hooks({ ms: 0 }));
    expect(codeOf(() => partition.checkEnoughReplicas())).toBe('SLUICE_ERR_NOT_ENOUGH_REPLICAS');
    append(partition, 0);
    expect(partition.highWatermark).toBe(0);
  });

  it('proposes an ISR expansion when a follower catches up, and shrinks it on the timer', () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    const now = { ms: 0 };
    const proposals: PendingIsrChange[] = [];
    partition.becomeLeader(stateOf({ isr: [0] }), 0, hooks(now, proposals));
    append(partition, 0);
    expect(partition.highWatermark).toBe(10);
    partition.recordFollowerFetch(1, { fetchOffset: 10, logStartOffset: 0, brokerEpoch: 1, leaderLogEndOffset: 10 });
    expect(proposals.map((change) => change.proposal.isr)).toEqual([[0, 1]]);
    partition.leaderState!.applyOutcome({ kind: 'committed', state: stateOf({ isr: [0, 1], partitionEpoch: 6 }) });
    partition.isrSettled();
    expect(partition.isr).toEqual([0, 1]);
    append(partition, 1);
    now.ms = 1001;
    partition.checkIsrShrink();
    expect(proposals.map((change) => change.proposal.isr)).toEqual([[0, 1], [0]]);
  });

  it('losing leadership answers waiting acks=all produces NOT_LEADER_OR_FOLLOWER and wakes parked fetches', async () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    partition.becomeLeader(stateOf(), 0, hooks({ ms: 0 }));
    const appended = append(partition, 0);
    const waiting = partition.waitForReplication(appended.lastOffset, 10_000)!;
    let woken = 0;
    partition.onAppend(() => { woken += 1; });
    partition.becomeFollower(stateOf({ leader: 1, leaderEpoch: 3, partitionEpoch: 6 }), 'follower');
    expect(await waiting).toBe('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER');
    expect(woken).toBe(1);
    expect(codeOf(() => partition.checkLeader())).toBe('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER');
    expect(partition.currentLeader).toEqual({ leaderId: 1, leaderEpoch: 3 });
  });

  it('checks request leader epochs: older is fenced, newer is unknown, absent passes', () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    partition.becomeLeader(stateOf({ leaderEpoch: 4 }), 0, hooks({ ms: 0 }));
    expect(codeOf(() => partition.checkLeader(3))).toBe('SLUICE_ERR_FENCED_LEADER_EPOCH');
    expect(codeOf(() => partition.checkLeader(5))).toBe('SLUICE_ERR_UNKNOWN_LEADER_EPOCH');
    expect(codeOf(() => partition.checkLeader(4))).toBeUndefined();
    expect(codeOf(() => partition.checkLeader(null))).toBeUndefined();
    expect(codeOf(() => partition.checkLeader(-1))).toBeUndefined();
  });

  it('a follower takes the leader\'s high watermark clamped to its own log', () => {
    const partition = manager.create('t', 1, {})!.partitions[0]!;
    partition.becomeFollower(stateOf({ leader: 1 }), 'follower');
    append(partition, 0);
    partition.setFollowerHighWatermark(50);
    expect(partition.highWatermark).toBe(10);
    partition.setFollowerHighWatermark(4);
    expect(partition.highWatermark).toBe(4);
  });
});
