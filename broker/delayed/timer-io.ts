/**
 * What a timer partition does outside its own log, and when its own appends count as done: on
 * the embedded single broker every target partition is local and an append is done once synced
 * (when the topic syncs on its own); in a cluster (cluster-timer-io.ts) appends wait for the
 * in-sync replicas and targets led elsewhere are written and read through their leaders.
 */
import { readBatchHeader, setMaxTimestamp } from '../../proto/record-batch/record-batch.js';
import { replayChunk } from '../storage/log-replay.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';

export interface TimerIo {
  /**
   * Whether a round first commits an empty fired marker: where another broker may have taken
   * over the timer partition, that commit fails on a deposed leader (its followers follow the
   * new one) before it appends anything to a target.
   */
  readonly fencesEachRound: boolean;
  /** Resolves once the timer replica's records up to `lastOffset` are as durable as an acks=all produce makes them. */
  committed(replica: Partition, lastOffset: number): Promise<void>;
  /**
   * Resolves once the replica's high watermark covers its log end at the call (or `stopped()`):
   * a new leader recovers only what is committed, and its own log end will be once its
   * followers have caught up.
   */
  caughtUp(replica: Partition, stopped: () => boolean): Promise<void>;
  /**
   * Appends a batch of fired records (timestamps: `appendTime`) to their partition and resolves
   * with the partition's log end after it once committed; undefined when the partition no
   * longer exists.
   */
  appendToTarget(topic: string, partition: number, batch: Buffer, appendTime: number): Promise<number | undefined>;
  /** Hands the partition's committed batches from `from` on to `visit`; resolves with the offset read up to (undefined: no such partition). */
  readTarget(topic: string, partition: number, from: number, visit: (batch: Buffer) => void): Promise<number | undefined>;
}

export function stampAppendTime(partition: Partition, batch: Buffer, appendTime: number): void {
  if (partition.log.config.messageTimestampType === 'LogAppendTime') setMaxTimestamp(batch, 0, 'log-append', appendTime);
}

export class LocalTimerIo implements TimerIo {
  readonly fencesEachRound = false;
  readonly #topics: TopicManager;

  constructor(topics: TopicManager) {
    this.#topics = topics;
  }

  committed(replica: Partition, lastOffset: number): Promise<void> {
    return replica.log.syncsOnItsOwn ? replica.log.waitForSync(lastOffset) : Promise.resolve();
  }

  caughtUp(): Promise<void> {
    return Promise.resolve();
  }

  async appendToTarget(topic: string, partition: number, batch: Buffer, appendTime: number): Promise<number | undefined> {
    const target = this.#topics.find(topic)?.partitionAt(partition);
    if (target === undefined) return undefined;
    target.checkLeader();
    stampAppendTime(target, batch, appendTime);
    const appended = target.log.append(batch, { verified: true, leaderEpoch: target.leaderEpoch });
    target.notifyAppend(batch.length);
    await this.committed(target, appended.lastOffset);
    return appended.lastOffset + 1;
  }

  async readTarget(topic: string, partition: number, from: number, visit: (batch: Buffer) => void): Promise<number | undefined> {
    const log = this.#topics.find(topic)?.partitionAt(partition)?.log;
    if (log === undefined) return undefined;
    for (let offset = Math.max(from, log.logStartOffset); offset < log.logEndOffset;) {
      offset = replayChunk(log, offset, (batch) => {
        if (!readBatchHeader(batch).isControl) visit(batch);
      });
    }
    return log.logEndOffset;
  }
}
