/**
 * Where the share coordinator (and delayed delivery's exactly-once check) reads a partition's
 * records: from its local replica when it
 * leads the partition or follows it (up to the replica's high watermark: what every in-sync
 * replica holds, so a record handed out survives a failover of its partition), otherwise from
 * the leader over a broker link (a plain Fetch, read_uncommitted, up to the leader's high
 * watermark).
 */
import { errorCodes, errorFromWire, SluiceError } from '../../proto/errors.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { Api, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import type { Partition } from '../topics/topic-manager.js';
import type { LeaderLinks } from './leader-links.js';

export interface PartitionRead {
  /** Whole batches, each its own buffer, in offset order. */
  batches: Buffer[];
  highWatermark: number;
  logStartOffset: number;
  /** The topic's message.ttl.ms (-1: none). */
  ttlMs: number;
}

export interface PartitionSource {
  /**
   * Batches from the one holding `from` (or the log start, when `from` is below it), up to about
   * `maxBytes`, below the high watermark. `leaderOnly`: never from a local follower, whose high
   * watermark may lag the leader's.
   */
  read(topic: string, partition: number, from: number, maxBytes: number, leaderOnly?: boolean): Promise<PartitionRead>;
  /** The partition's log start and high watermark. */
  bounds(topic: string, partition: number, leaderOnly?: boolean): Promise<{ logStartOffset: number; highWatermark: number }>;
  /** How many partitions the topic has (undefined: unknown topic). */
  partitionCount(topic: string): number | undefined;
  /** The local replica when this broker leads the partition: appends to it can wake parked fetches. */
  ledHere(topic: string, partition: number): Partition | undefined;
}

function split(records: Buffer, into: Buffer[]): void {
  for (const { position, size } of eachBatch(records)) into.push(records.subarray(position, position + size));
}

export class BrokerPartitionSource implements PartitionSource {
  readonly #context: () => BrokerContext;
  readonly #links: LeaderLinks;

  constructor(context: () => BrokerContext, links: LeaderLinks) {
    this.#context = context;
    this.#links = links;
  }

  partitionCount(topic: string): number | undefined {
    return this.#context().cluster.describeTopic(topic)?.length;
  }

  #local(topic: string, partition: number): Partition | undefined {
    const replica = this.#context().topics.find(topic)?.partitionAt(partition);
    return replica === undefined || replica.closed || replica.role === 'none' ? undefined : replica;
  }

  ledHere(topic: string, partition: number): Partition | undefined {
    const replica = this.#local(topic, partition);
    return replica?.role === 'leader' ? replica : undefined;
  }

  #ttlMs(topic: string): number {
    const local = this.#context().topics.find(topic);
    if (local !== undefined) return local.config.messageTtlMs;
    const configured = this.#context().cluster.topicConfigs(topic)?.['message.ttl.ms'];
    return configured === undefined ? -1 : Number(configured);
  }

  async bounds(topic: string, partition: number, leaderOnly = false): Promise<{ logStartOffset: number; highWatermark: number }> {
    const replica = leaderOnly ? this.ledHere(topic, partition) : this.#local(topic, partition);
    if (replica !== undefined) return { logStartOffset: replica.log.logStartOffset, highWatermark: replica.highWatermark };
    const leader = this.#links.leaderOf(topic, partition);
    const offset = async (timestamp: number) => {
      const answer = await this.#links.request<'listOffsets'>(leader, Api.LIST_OFFSETS, { topics: [{ name: topic, partitions: [{ partition, timestamp }] }] });
      const result = answer.topics[0]?.partitions[0];
      if (result === undefined || result.errorCode !== 0) throw errorFromWire(result?.errorCode ?? -1, result?.errorMessage ?? `no offsets for ${topic}-${partition}`);
      return result.offset;
    };
    return { logStartOffset: await offset(EARLIEST_TIMESTAMP), highWatermark: await offset(LATEST_TIMESTAMP) };
  }

  async read(topic: string, partition: number, from: number, maxBytes: number, leaderOnly = false): Promise<PartitionRead> {
    const replica = leaderOnly ? this.ledHere(topic, partition) : this.#local(topic, partition);
    if (replica !== undefined) return this.#readLocal(replica, from, maxBytes);
    const leader = this.#links.leaderOf(topic, partition);
    const fetch = async (offset: number) => (await this.#links.request<'fetch'>(leader, Api.FETCH, {
      maxWaitMs: 0, minBytes: 1, maxBytes, topics: [{ name: topic, partitions: [{ partition, fetchOffset: offset, maxBytes }] }],
    })).topics[0]?.partitions[0];
    let result = await fetch(from);
    if (result?.errorCode === errorCodes.SLUICE_ERR_OFFSET_OUT_OF_RANGE.wire) {
      const bounds = await this.bounds(topic, partition);
      if (from < bounds.logStartOffset) result = await fetch(bounds.logStartOffset);
      else return { batches: [], highWatermark: bounds.highWatermark, logStartOffset: bounds.logStartOffset, ttlMs: this.#ttlMs(topic) };
    }
    if (result === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `no answer for ${topic}-${partition} from broker ${leader}`);
    if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    const batches: Buffer[] = [];
    split(result.records, batches);
    return { batches, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset, ttlMs: this.#ttlMs(topic) };
  }

  #readLocal(replica: Partition, from: number, maxBytes: number): PartitionRead {
    const { log } = replica;
    const highWatermark = replica.highWatermark;
    const logStartOffset = log.logStartOffset;
    const batches: Buffer[] = [];
    const start = Math.max(from, logStartOffset);
    if (start < highWatermark && start < log.logEndOffset) {
      for (const slice of log.read(start, maxBytes, highWatermark).slices) split(slice, batches);
    }
    return { batches, highWatermark, logStartOffset, ttlMs: log.config.messageTtlMs };
  }
}
