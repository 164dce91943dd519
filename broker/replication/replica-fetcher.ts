/**
 * The follower side of replication for every partition this broker follows on one leader
 * broker (Kafka's ReplicaFetcherThread, REPLICATION-FACTS.md §G): a loop of long-polling
 * Fetch requests, each partition from its own log end, carrying this broker's id and epoch, the
 * leader epoch it believes in and the epoch of its last batch. Answers are appended as they are
 * (the leader's offsets and epochs), the high watermark is taken from the leader clamped to the
 * local log, and a diverging epoch truncates the log by leader epoch, never by high watermark
 * alone. Errors back off (replica.fetch.backoff.ms) per partition or, for the link, as a whole.
 */
import type { Logger } from 'pino';
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api, type EpochEndOffset, type FetchPartitionResult, LATEST_TIMESTAMP } from '../../proto/messages.js';
import type { BrokerEndpoint } from '../cluster/partition-state.js';
import type { Partition } from '../topics/partition.js';
import { BrokerLink } from './broker-link.js';
import type { ReplicationSettings } from './replication-settings.js';

export interface FetcherPartition {
  partition: Partition;
  /** The leader epoch this broker follows under; a fetch carries it as currentLeaderEpoch. */
  leaderEpoch: number;
  /** No fetch before this time (a per-partition error backs off). */
  delayedUntilMs: number;
  /** Fenced by the leader at this epoch: wait for new metadata (§G). */
  failed: boolean;
}

export interface ReplicaFetcherOptions {
  nodeId: number;
  leader: BrokerEndpoint;
  brokerEpoch: () => number;
  settings: ReplicationSettings;
  logger: Logger;
  /** Offsets below the local high watermark removed by a truncation (after an unclean election). */
  onOffsetsLost: (partition: Partition, count: number) => void;
  localAddress?: string;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ReplicaFetcher {
  readonly leader: BrokerEndpoint;
  readonly #options: ReplicaFetcherOptions;
  readonly #link: BrokerLink;
  readonly #partitions = new Map<string, FetcherPartition>();
  #running = false;
  #loop: Promise<void> | undefined;
  /** Wakes the loop when it idles (no partitions, or all backing off). */
  #wake: (() => void) | undefined;

  constructor(options: ReplicaFetcherOptions) {
    this.#options = options;
    this.leader = options.leader;
    this.#link = new BrokerLink({
      host: options.leader.host, port: options.leader.port, clientId: `replica-fetcher-${options.nodeId}`,
      timeoutMs: options.settings.replicaSocketTimeoutMs, frameBytesMax: options.settings.replicaFetchResponseMaxBytes + 1024 * 1024,
      localAddress: options.localAddress,
    });
  }

  get size(): number {
    return this.#partitions.size;
  }

  partitions(): Iterable<FetcherPartition> {
    return this.#partitions.values();
  }

  /** Starts (or restarts, for a new epoch) fetching the partition. */
  add(partition: Partition, leaderEpoch: number): void {
    this.#partitions.set(key(partition.topic, partition.index), { partition, leaderEpoch, delayedUntilMs: 0, failed: false });
    this.#wake?.();
  }

  remove(partition: Partition): void {
    this.#partitions.delete(key(partition.topic, partition.index));
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#link.close();
    this.#wake?.();
    await this.#loop;
  }

  async #idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }

  async #run(): Promise<void> {
    const { settings, logger } = this.#options;
    while (this.#running) {
      const now = Date.now();
      for (const [id, entry] of this.#partitions) if (entry.partition.closed) this.#partitions.delete(id);
      const ready = [...this.#partitions.values()].filter((entry) => !entry.failed && entry.delayedUntilMs <= now);
      if (ready.length === 0) {
        const next = Math.min(...[...this.#partitions.values()].filter((entry) => !entry.failed).map((entry) => entry.delayedUntilMs));
        await this.#idle(Number.isFinite(next) ? Math.max(1, next - now) : settings.replicaFetchBackoffMs);
        continue;
      }
      try {
        await this.#fetchOnce(ready);
      } catch (error) {
        if (!this.#running) break;
        logger.warn({ err: error, leader: this.leader.nodeId, address: this.#link.address }, 'replica fetch failed; backing off');
        await this.#idle(settings.replicaFetchBackoffMs);
      }
    }
  }

  async #fetchOnce(ready: FetcherPartition[]): Promise<void> {
    const { settings, nodeId } = this.#options;
    const byTopic = new Map<string, FetcherPartition[]>();
    for (const entry of ready) {
      const list = byTopic.get(entry.partition.topic) ?? [];
      list.push(entry);
      byTopic.set(entry.partition.topic, list);
    }
    const sent = new Map<string, { entry: FetcherPartition; fetchOffset: number }>();
    const topics = [...byTopic].map(([name, entries]) => ({
      name,
      partitions: entries.map((entry) => {
        const { log } = entry.partition;
        const fetchOffset = log.logEndOffset;
        sent.set(key(name, entry.partition.index), { entry, fetchOffset });
        const lastFetchedEpoch = log.leaderEpochs.latestEpoch ?? -1;
        return {
          partition: entry.partition.index, fetchOffset, maxBytes: settings.replicaFetchMaxBytes, currentLeaderEpoch: entry.leaderEpoch,
          lastFetchedEpoch: lastFetchedEpoch >= 0 ? lastFetchedEpoch : null, logStartOffset: log.logStartOffset,
        };
      }),
    }));
    const response = await this.#link.request<'fetch'>(Api.FETCH, {
      maxWaitMs: settings.replicaFetchWaitMaxMs, minBytes: settings.replicaFetchMinBytes, maxBytes: settings.replicaFetchResponseMaxBytes,
      topics, replicaId: nodeId, replicaEpoch: this.#options.brokerEpoch(),
    }, settings.replicaSocketTimeoutMs + settings.replicaFetchWaitMaxMs);
    for (const topic of response.topics) {
      for (const result of topic.partitions) {
        const found = sent.get(key(topic.name, result.partition));
        // Removed or re-added for another epoch while the fetch was out: its answer is stale.
        if (found === undefined || this.#partitions.get(key(topic.name, result.partition)) !== found.entry) continue;
        await this.#handlePartition(found.entry, found.fetchOffset, result);
      }
    }
  }

  async #handlePartition(entry: FetcherPartition, fetchOffset: number, result: FetchPartitionResult): Promise<void> {
    const { partition } = entry;
    const { log } = partition;
    const { logger, settings } = this.#options;
    // The log moved under this answer (truncated by a state change): fetch again from its end.
    if (log.logEndOffset !== fetchOffset || partition.role !== 'follower' || partition.leaderEpoch !== entry.leaderEpoch) return;
    if (result.errorCode !== 0) {
      const error = errorFromWire(result.errorCode, result.errorMessage);
      switch (error.code) {
        case 'SLUICE_ERR_OFFSET_OUT_OF_RANGE':
          await this.#handleOutOfRange(entry);
          return;
        case 'SLUICE_ERR_FENCED_LEADER_EPOCH':
          // The leader is at a newer epoch than this broker knows: wait for that state to arrive.
          entry.failed = true;
          logger.info({ topic: partition.topic, partition: partition.index, epoch: entry.leaderEpoch }, 'fenced by the leader; waiting for new partition state');
          return;
        default:
          entry.delayedUntilMs = Date.now() + settings.replicaFetchBackoffMs;
          logger.debug({ topic: partition.topic, partition: partition.index, code: error.code, message: error.message }, 'replica fetch error; backing off');
          return;
      }
    }
    const diverging = result.divergingEpoch;
    if (diverging !== null && diverging !== undefined && diverging.epoch >= -1 && (diverging.epoch >= 0 || diverging.endOffset >= 0)) {
      this.#truncateForDivergence(partition, diverging);
      return;
    }
    const records = result.records;
    if (records !== undefined && records.length > 0) {
      const first = Number(records.readBigInt64BE(0));
      if (first !== fetchOffset) {
        throw new SluiceError('SLUICE_ERR_CORRUPT_MESSAGE', `${partition.topic}-${partition.index}: the leader sent offset ${first} for fetch offset ${fetchOffset}`);
      }
      log.append(records, { assignOffsets: false });
      partition.notifyAppend(records.length);
    }
    // The leader's start moved (retention, DeleteRecords): follow it, within what is here.
    if (result.logStartOffset > log.logStartOffset && result.logStartOffset <= log.logEndOffset) log.deleteRecordsBefore(result.logStartOffset);
    partition.setFollowerHighWatermark(result.highWatermark);
  }

  /** §G truncation for a diverging-epoch answer (le, lo). */
  #truncateForDivergence(partition: Partition, diverging: EpochEndOffset): void {
    const { log } = partition;
    const logEndOffset = log.logEndOffset;
    let target: number;
    if (diverging.endOffset < 0) {
      target = Math.min(partition.highWatermark, logEndOffset);
    } else if (diverging.epoch < 0) {
      target = Math.min(diverging.endOffset, logEndOffset);
    } else {
      const mine = log.endOffsetForEpoch(diverging.epoch);
      if (mine.epoch < 0) target = Math.min(diverging.endOffset, logEndOffset);
      else if (mine.epoch !== diverging.epoch) target = Math.min(mine.endOffset, logEndOffset);
      else target = Math.min(mine.endOffset, diverging.endOffset, logEndOffset);
    }
    this.truncate(partition, target, `diverging epoch ${diverging.epoch} ending at ${diverging.endOffset}`);
  }

  /** Truncates the follower's log, counting offsets lost below its high watermark. */
  truncate(partition: Partition, offset: number, why: string): void {
    const { log } = partition;
    if (offset >= log.logEndOffset) return;
    const highWatermark = partition.highWatermark;
    const lost = Math.max(0, highWatermark - Math.max(offset, log.logStartOffset));
    const fields = { topic: partition.topic, partition: partition.index, from: log.logEndOffset, to: offset, highWatermark, why };
    if (lost > 0) {
      this.#options.logger.warn(fields, 'truncating below the high watermark: acknowledged offsets are lost (unclean leader election)');
      this.#options.onOffsetsLost(partition, lost);
    } else {
      this.#options.logger.info(fields, 'truncating a diverged follower log');
    }
    // The log also cuts its epochs and lowers its high watermark to the new end.
    log.truncateTo(offset);
  }

  /** §G: the fetch offset is outside the leader's log. */
  async #handleOutOfRange(entry: FetcherPartition): Promise<void> {
    const { partition } = entry;
    const { log } = partition;
    const ask = async (timestamp: number): Promise<number> => {
      const response = await this.#link.request<'listOffsets'>(Api.LIST_OFFSETS, {
        replicaId: this.#options.nodeId,
        topics: [{ name: partition.topic, partitions: [{ partition: partition.index, timestamp, currentLeaderEpoch: entry.leaderEpoch }] }],
      });
      const answer = response.topics[0]?.partitions[0];
      if (answer === undefined || answer.errorCode !== 0) {
        throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `leader ${this.leader.nodeId} did not give offsets of ${partition.topic}-${partition.index}: ${answer?.errorMessage ?? 'no answer'}`);
      }
      return answer.offset;
    };
    const leaderEnd = await ask(LATEST_TIMESTAMP);
    if (leaderEnd < log.logEndOffset) {
      this.truncate(partition, leaderEnd, `leader log end ${leaderEnd} is below ours`);
      return;
    }
    const leaderStart = await ask(-2);
    if (leaderStart > log.logEndOffset) {
      this.#options.logger.warn({ topic: partition.topic, partition: partition.index, leaderStart, logEndOffset: log.logEndOffset },
        'the leader deleted the records this follower needs next: restarting the log at the leader\'s start');
      log.truncateFullyAndStartAt(leaderStart);
      return;
    }
    // Both ends are in range now (the leader's log moved meanwhile): try again after a pause.
    entry.delayedUntilMs = Date.now() + this.#options.settings.replicaFetchBackoffMs;
  }
}
