/**
 * A timer partition's outside work in a cluster. Its own appends (held records, fired markers)
 * are done once the in-sync replicas have them, as an acks=all produce. Fired records go to
 * their partition's leader: appended here when this broker leads it, else sent as an acks=all
 * Produce over a broker link. The exactly-once check after a failover reads targets from their
 * leaders, up to the high watermark: every append a firing round saw acknowledged is there.
 */
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { readBatchHeader } from '../../proto/record-batch/record-batch.js';
import type { BrokerContext } from '../api/context.js';
import { commitReplicated } from '../replication/commit-replicated.js';
import type { LeaderLinks } from '../replication/leader-links.js';
import type { PartitionSource } from '../replication/partition-source.js';
import type { Partition } from '../topics/topic-manager.js';
import { stampAppendTime, type TimerIo } from './timer-io.js';

/** How long an append waits for the in-sync replicas (as a group commit does). */
const replicationTimeoutMs = 5000;
const readChunkBytes = 4 * 1024 * 1024;
const caughtUpPollMs = 20;

export class ClusterTimerIo implements TimerIo {
  readonly fencesEachRound = true;
  readonly #context: () => BrokerContext;
  readonly #links: LeaderLinks;
  readonly #source: PartitionSource;

  constructor(context: () => BrokerContext, links: LeaderLinks, source: PartitionSource) {
    this.#context = context;
    this.#links = links;
    this.#source = source;
  }

  committed(replica: Partition, lastOffset: number): Promise<void> {
    return commitReplicated(replica, lastOffset, replicationTimeoutMs);
  }

  async caughtUp(replica: Partition, stopped: () => boolean): Promise<void> {
    const end = replica.log.logEndOffset;
    while (replica.highWatermark < end && !stopped()) await new Promise((resolve) => setTimeout(resolve, caughtUpPollMs));
  }

  #exists(topic: string, partition: number): boolean {
    return (this.#context().cluster.describeTopic(topic)?.length ?? 0) > partition;
  }

  /**
   * A new leader's high watermark starts where it was as a follower, below records its old
   * leader had committed (and a firing round saw acknowledged): until it reaches the start of
   * the new epoch the partition is not read (OFFSET_NOT_AVAILABLE, retriable), as ListOffsets answers.
   */
  async #checkSettled(topic: string, partition: number): Promise<void> {
    const local = this.#source.ledHere(topic, partition);
    if (local === undefined) {
      await this.#source.bounds(topic, partition, true);
      return;
    }
    const epochStart = local.leaderState?.leaderEpochStartOffset ?? -1;
    if (local.highWatermark < epochStart) {
      throw new SluiceError('SLUICE_ERR_OFFSET_NOT_AVAILABLE', `${topic}-${partition}: its high watermark ${local.highWatermark} has not reached the start of this leader's epoch (${epochStart}) yet`);
    }
  }

  async appendToTarget(topic: string, partition: number, batch: Buffer, appendTime: number): Promise<number | undefined> {
    if (!this.#exists(topic, partition)) return undefined;
    const local = this.#source.ledHere(topic, partition);
    if (local !== undefined) {
      local.checkLeader();
      local.checkEnoughReplicas();
      stampAppendTime(local, batch, appendTime);
      const appended = local.log.append(batch, { verified: true, leaderEpoch: local.leaderEpoch });
      local.notifyAppend(batch.length);
      await commitReplicated(local, appended.lastOffset, replicationTimeoutMs);
      return appended.lastOffset + 1;
    }
    const answer = await this.#links.request<'produce'>(this.#links.leaderOf(topic, partition), Api.PRODUCE, {
      acks: -1, timeoutMs: replicationTimeoutMs, topics: [{ name: topic, partitions: [{ partition, records: batch }] }],
    });
    const result = answer.topics[0]?.partitions[0];
    if (result === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', `no produce answer for ${topic}-${partition}`);
    if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    const header = readBatchHeader(batch);
    return result.baseOffset + header.lastOffsetDelta + 1;
  }

  async readTarget(topic: string, partition: number, from: number, visit: (batch: Buffer) => void): Promise<number | undefined> {
    if (!this.#exists(topic, partition)) return undefined;
    await this.#checkSettled(topic, partition);
    let offset = from;
    for (;;) {
      const read = await this.#source.read(topic, partition, offset, readChunkBytes, true);
      offset = Math.max(offset, read.logStartOffset);
      for (const batch of read.batches) {
        const header = readBatchHeader(batch);
        offset = header.baseOffset + header.lastOffsetDelta + 1;
        if (!header.isControl) visit(batch);
      }
      if (read.batches.length === 0 || offset >= read.highWatermark) return Math.max(offset, read.highWatermark);
    }
  }
}
