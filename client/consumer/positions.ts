/**
 * The consumer's assigned partitions and where it stands in each: the position (the next
 * offset to hand out, which is what a commit stores), the next offset to fetch, and what the
 * group last stored. Positions move only when records are handed out (by poll() or as the
 * iterator yields them), by a seek, or when a start is resolved from the group's committed
 * offset or autoOffsetReset; so a commit never covers a record the application was not given.
 */
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { MetadataCache } from '../metadata.js';
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api, EARLIEST_TIMESTAMP, IsolationLevel, LATEST_TIMESTAMP, type ResponseBodies } from '../../proto/messages.js';

/** How long a read_committed consumer waits for a group's transactional offset commit to complete. */
const unstableOffsetsWaitMs = 60_000;

export type SeekTarget = number | 'earliest' | 'latest' | { timestamp: number };

export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to hand out; undefined until resolved. */
  position: number | undefined;
  /** Next offset to fetch (ahead of `position` by what is buffered); undefined until resolved. */
  fetchOffset: number | undefined;
  /** What the group last stored for this partition, as far as this consumer knows. */
  committed: number | undefined;
  /** The committed offset was out of range once: start by autoOffsetReset instead. */
  skipCommitted: boolean;
  /** Bumped by seek and unassignment: fetched or buffered records of an older epoch are dropped. */
  epoch: number;
  highWatermark: number;
}

export interface OffsetEntry {
  topic: string;
  partition: number;
  offset: number;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export interface PositionsOptions {
  groupId: string | undefined;
  autoOffsetReset: 'earliest' | 'latest' | 'none';
  /** read_committed: 'latest' is the last stable offset (an open transaction's records are read once committed). */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
  /** The generation and member id a commit is fenced by (none outside a subscription). */
  membership: () => { generationId: number; memberId: string };
}

export class Positions {
  readonly #metadata: MetadataCache;
  readonly #coordinator: GroupCoordinator | undefined;
  readonly #options: PositionsOptions;
  readonly #states = new Map<string, PartitionState>();

  constructor(metadata: MetadataCache, coordinator: GroupCoordinator | undefined, options: PositionsOptions) {
    this.#metadata = metadata;
    this.#coordinator = coordinator;
    this.#options = options;
  }

  get size(): number {
    return this.#states.size;
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.#states.get(partitionKey(topic, partition));
  }

  values(): IterableIterator<PartitionState> {
    return this.#states.values();
  }

  /** Adds a partition (from `offset`, or resolved later); an assigned one is kept as it is. */
  add(topic: string, partition: number, offset?: number): PartitionState {
    const key = partitionKey(topic, partition);
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { topic, partition, position: offset, fetchOffset: offset, committed: undefined, skipCommitted: false, epoch: 0, highWatermark: -1 };
      this.#states.set(key, state);
    }
    return state;
  }

  /** Forgets a partition; its epoch moves on so nothing fetched for it is handed out later. */
  remove(topic: string, partition: number): PartitionState | undefined {
    const key = partitionKey(topic, partition);
    const state = this.#states.get(key);
    if (state === undefined) return undefined;
    state.epoch += 1;
    this.#states.delete(key);
    return state;
  }

  clear(): PartitionState[] {
    const removed = [...this.#states.values()];
    for (const state of removed) state.epoch += 1;
    this.#states.clear();
    return removed;
  }

  /** Moves a partition to `offset`: it is handed out and fetched from there. */
  moveTo(state: PartitionState, offset: number): void {
    state.position = offset;
    state.fetchOffset = offset;
    state.epoch += 1;
  }

  /** True once every partition knows where to fetch from. */
  allResolved(): boolean {
    for (const state of this.#states.values()) if (state.fetchOffset === undefined) return false;
    return true;
  }

  /** Handed-out positions the group has not stored yet, of every partition or of `which`. */
  uncommitted(which?: (state: PartitionState) => boolean): OffsetEntry[] {
    const entries: OffsetEntry[] = [];
    for (const state of this.#states.values()) {
      if (state.position === undefined || state.position === state.committed || (which !== undefined && !which(state))) continue;
      entries.push({ topic: state.topic, partition: state.partition, offset: state.position });
    }
    return entries;
  }

  /**
   * Commits offsets to the group: the given ones, or every partition's position (the next
   * offset after the last record handed out). Resolves once the broker stored them.
   */
  async commit(offsets?: OffsetEntry[]): Promise<void> {
    const groupId = this.#options.groupId;
    const coordinator = this.#coordinator;
    if (groupId === undefined || coordinator === undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'commit() needs a consumer created with a groupId');
    const entries = offsets ?? this.uncommitted();
    if (entries.length === 0) return;
    const byTopic = new Map<string, Array<{ partition: number; offset: number }>>();
    for (const entry of entries) {
      let partitions = byTopic.get(entry.topic);
      if (partitions === undefined) byTopic.set(entry.topic, partitions = []);
      partitions.push({ partition: entry.partition, offset: entry.offset });
    }
    const { generationId, memberId } = this.#options.membership();
    await coordinator.call(async (connection, request) => {
      const response = await connection.request<'offsetCommit'>(Api.OFFSET_COMMIT, {
        groupId, generationId, memberId, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
      }, request);
      for (const topic of response.topics) {
        for (const result of topic.partitions) if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
      }
    });
    for (const entry of entries) {
      const state = this.get(entry.topic, entry.partition);
      if (state !== undefined) state.committed = entry.offset;
    }
  }

  /**
   * The group's committed offsets for the given topics, by partitionKey. A read_committed
   * consumer asks for stable offsets only (as Kafka's does): while a transaction that commits
   * offsets of the group is completing, the broker answers UNSTABLE_OFFSET_COMMIT and the
   * consumer asks again, rather than starting from offsets that transaction is about to replace.
   */
  async committedOffsets(topics: string[]): Promise<Map<string, number>> {
    const groupId = this.#options.groupId;
    if (groupId === undefined || this.#coordinator === undefined) return new Map();
    const requireStable = this.#options.isolationLevel === 'read_committed';
    const deadline = Date.now() + unstableOffsetsWaitMs;
    let response: ResponseBodies['offsetFetch'];
    for (let backoffMs = 20; ; backoffMs = Math.min(backoffMs * 2, 500)) {
      try {
        response = await this.#coordinator.request<'offsetFetch'>(Api.OFFSET_FETCH, { groupId, topics, requireStable });
        break;
      } catch (error) {
        if (!SluiceError.is(error) || error.code !== 'SLUICE_ERR_UNSTABLE_OFFSET_COMMIT' || Date.now() + backoffMs > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
    const offsets = new Map<string, number>();
    for (const topic of response.topics) for (const partition of topic.partitions) offsets.set(partitionKey(topic.name, partition.partition), partition.offset);
    return offsets;
  }

  /** Resolves 'earliest', 'latest' or a time to an offset with ListOffsets (-1: no record that late). */
  async offsetFor(topic: string, partition: number, target: Exclude<SeekTarget, number>): Promise<number> {
    const timestamp = target === 'earliest' ? EARLIEST_TIMESTAMP : target === 'latest' ? LATEST_TIMESTAMP : target.timestamp;
    const result = await this.#metadata.onLeader(topic, partition, async ({ connection, leaderEpoch }) => {
      const response = await connection.request<'listOffsets'>(Api.LIST_OFFSETS, {
        topics: [{ name: topic, partitions: [{ partition, timestamp, currentLeaderEpoch: leaderEpoch }] }],
        isolationLevel: this.#options.isolationLevel === 'read_committed' ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED,
      });
      const answer = response.topics[0]?.partitions[0];
      if (answer === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', 'ListOffsets answered with no partition');
      if (answer.errorCode !== 0) throw errorFromWire(answer.errorCode, answer.errorMessage);
      return answer;
    });
    if (result.offset < 0 && typeof target === 'object') return this.offsetFor(topic, partition, 'latest');
    return result.offset;
  }

  /** Gives every partition without a position one: the group's committed offset, else autoOffsetReset. */
  async resolve(): Promise<void> {
    const unresolved = [...this.#states.values()].filter((state) => state.fetchOffset === undefined && !state.skipCommitted);
    if (unresolved.length > 0) {
      const committed = await this.committedOffsets([...new Set(unresolved.map((state) => state.topic))]);
      for (const state of unresolved) {
        const offset = committed.get(partitionKey(state.topic, state.partition));
        if (offset === undefined || state.fetchOffset !== undefined) continue;
        state.position = offset;
        state.fetchOffset = offset;
        state.committed = offset;
      }
    }
    for (const state of [...this.#states.values()]) {
      if (state.fetchOffset !== undefined) continue;
      if (this.#options.autoOffsetReset === 'none') {
        throw new SluiceError('SLUICE_ERR_OFFSET_OUT_OF_RANGE', `${state.topic}/${state.partition} has no position; seek first or set autoOffsetReset`);
      }
      const epoch = state.epoch;
      const offset = await this.offsetFor(state.topic, state.partition, this.#options.autoOffsetReset);
      if (state.epoch !== epoch) continue;
      state.position = offset;
      state.fetchOffset = offset;
    }
  }
}
