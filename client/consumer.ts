/**
 * The consumer: assigned partitions are fetched in the background (long polls, so new records
 * arrive as soon as they are appended) while the application processes what it has; `poll()`
 * and `for await` hand out records in offset order per partition. Every batch is checked
 * (CRC-32C) and decompressed before its records are handed out. `seek()` moves a partition to
 * an offset, a time, the beginning or the end; fetches in flight for the old position are
 * discarded.
 */
import type { BrokerConnection } from './connection.js';
import { errorFromWire, OffsetOutOfRangeError, SluiceError } from '../proto/errors.js';
import { Api, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type FetchResponse } from '../proto/messages.js';
import { BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD } from '../proto/record-batch/layout.js';
import type { AssignorName, TopicPartition } from './groups/assignors.js';
import { GroupMember } from './groups/group-member.js';
import { batchLastOffset, checkBatch, decodeRecords, type DecodedRecord } from '../proto/record-batch/record-batch.js';

export type ConsumerRecord = DecodedRecord;

export type SeekTarget = number | 'earliest' | 'latest' | { timestamp: number };

export interface ConsumerOptions {
  /** Longest a fetch waits on the broker for `minBytes` to arrive. */
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  maxPollRecords?: number;
  /** Records fetched ahead and not yet polled; fetching pauses above this. */
  bufferedRecordsMax?: number;
  /** Where a partition with no position (or an out-of-range one) starts; 'none' throws. */
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  /** A consumer group: partitions start from the group's committed offsets, and commits go there. */
  groupId?: string;
  /** With a groupId: commit the consumed positions every autoCommitIntervalMs and on close (default true). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** subscribe(): how the group's leader splits partitions (default cooperative-sticky). */
  assignor?: AssignorName;
  /** subscribe(): the coordinator drops a member silent for this long (default 10 s). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** subscribe(): how long a rebalance waits for members to rejoin (default the session timeout). */
  rebalanceTimeoutMs?: number;
  /** subscribe(): static membership; a restarted member with the same id keeps its partitions. */
  groupInstanceId?: string;
}

export interface SubscribeOptions {
  /** Partitions this member just got (and its whole assignment). */
  onAssigned?: (assignment: TopicPartition[], added: TopicPartition[]) => void | Promise<void>;
  /** Partitions about to be taken away; their consumed offsets are committed first with autoCommit. */
  onRevoked?: (revoked: TopicPartition[]) => void | Promise<void>;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to hand out. */
  position: number | undefined;
  /** Next offset to fetch (ahead of `position` by what is buffered); undefined until resolved. */
  fetchOffset: number | undefined;
  /** The committed offset was out of range once: start by autoOffsetReset instead. */
  skipCommitted?: boolean;
  /** Bumped by seek: fetch results for an older epoch are dropped. */
  epoch: number;
  highWatermark: number;
}

interface FetchRound {
  response: FetchResponse;
  states: PartitionState[];
  epochs: number[];
  offsets: number[];
}

interface PendingDecode {
  state: PartitionState;
  epoch: number;
  records: Buffer;
  fromOffset: number;
}

const fencedCodes = new Set(['SLUICE_ERR_ILLEGAL_GENERATION', 'SLUICE_ERR_UNKNOWN_MEMBER_ID', 'SLUICE_ERR_REBALANCE_IN_PROGRESS']);

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class Consumer {
  readonly #connection: BrokerConnection;
  readonly #options: Required<Omit<ConsumerOptions, 'groupId' | 'groupInstanceId'>> & { groupId: string | undefined; groupInstanceId: string | undefined };
  #member: GroupMember | undefined;
  #autoCommitTimer: NodeJS.Timeout | undefined;
  #committed = new Map<PartitionState, number>();
  readonly #partitions = new Map<string, PartitionState>();
  /** Decoded batches not yet polled, oldest first; `next` is the first record not handed out. */
  #buffer: Array<{ state: PartitionState; epoch: number; records: DecodedRecord[]; next: number }> = [];
  #bufferedRecords = 0;
  #error: unknown;
  #wake: (() => void) | undefined;
  #fetching: Promise<void> | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(connection: BrokerConnection, options: ConsumerOptions = {}) {
    this.#connection = connection;
    this.#options = {
      maxWaitMs: 500, minBytes: 1, maxBytes: 50 * 1024 * 1024, partitionMaxBytes: 1024 * 1024,
      maxPollRecords: 500, bufferedRecordsMax: 50_000, autoOffsetReset: 'latest', autoCommit: true, autoCommitIntervalMs: 5000,
      assignor: 'cooperative-sticky', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000, rebalanceTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      ...options, groupId: options.groupId, groupInstanceId: options.groupInstanceId,
    };
    if (this.#options.groupId !== undefined && this.#options.autoCommit) {
      this.#autoCommitTimer = setInterval(() => {
        this.commit().catch((error: unknown) => {
          // A commit that races a rebalance is fenced; the revocation commits those offsets anyway.
          if (SluiceError.is(error) && (error.retriable || fencedCodes.has(error.code))) return;
          this.#error ??= error;
        });
      }, this.#options.autoCommitIntervalMs);
      this.#autoCommitTimer.unref();
    }
  }

  /** Consumes exactly these partitions, from `offset` when given. */
  assign(partitions: Array<{ topic: string; partition: number; offset?: number }>): void {
    this.#partitions.clear();
    this.#buffer = [];
    this.#bufferedRecords = 0;
    for (const { topic, partition, offset } of partitions) {
      this.#partitions.set(key(topic, partition), { topic, partition, position: offset, fetchOffset: offset, epoch: 0, highWatermark: -1 });
    }
    this.#startFetching();
  }

  /**
   * Joins the consumer's group and consumes whatever partitions of `topics` (names, or a
   * pattern matched against topic names) the group assigns to it, following rebalances.
   */
  subscribe(topics: string[] | RegExp, options: SubscribeOptions = {}): void {
    const groupId = this.#options.groupId;
    if (groupId === undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'subscribe() needs a consumer created with a groupId');
    if (this.#member !== undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'this consumer is already subscribed');
    this.#member = new GroupMember(this.#connection, {
      groupId, topics, assignor: this.#options.assignor, sessionTimeoutMs: this.#options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs, heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      ...(this.#options.groupInstanceId === undefined ? {} : { groupInstanceId: this.#options.groupInstanceId }),
      onRevoked: async (revoked) => {
        if (this.#options.autoCommit) {
          const gone = new Set(revoked.map((entry) => key(entry.topic, entry.partition)));
          await this.commit([...this.#partitions.values()].filter((state) => gone.has(key(state.topic, state.partition)) && state.position !== undefined)
            .map((state) => ({ topic: state.topic, partition: state.partition, offset: state.position! }))).catch(() => {});
        }
        await options.onRevoked?.(revoked);
        for (const entry of revoked) this.#unassign(entry.topic, entry.partition);
      },
      onAssigned: async (assignment, added) => {
        for (const entry of added) {
          if (!this.#partitions.has(key(entry.topic, entry.partition))) {
            this.#partitions.set(key(entry.topic, entry.partition), { topic: entry.topic, partition: entry.partition, position: undefined, fetchOffset: undefined, epoch: 0, highWatermark: -1 });
          }
        }
        await options.onAssigned?.(assignment, added);
        this.#startFetching();
      },
      onError: (error) => {
        this.#error = error;
        this.#wake?.();
      },
    });
    this.#member.start();
  }

  #unassign(topic: string, partition: number): void {
    const state = this.#partitions.get(key(topic, partition));
    if (state === undefined) return;
    state.epoch += 1;
    this.#dropBuffered(state);
    this.#partitions.delete(key(topic, partition));
    this.#committed.delete(state);
  }

  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.#partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Moves a partition; resolves with its new position. */
  async seek(topic: string, partition: number, target: SeekTarget): Promise<number> {
    const state = this.#partitions.get(key(topic, partition));
    if (state === undefined) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `${topic}/${partition} is not assigned to this consumer`);
    const offset = typeof target === 'number' ? target : await this.offsetFor(topic, partition, target);
    state.position = offset;
    state.fetchOffset = offset;
    state.epoch += 1;
    this.#dropBuffered(state);
    this.#error = undefined;
    this.#startFetching();
    return offset;
  }

  /** The next offset this consumer will hand out for a partition. */
  position(topic: string, partition: number): number | undefined {
    return this.#partitions.get(key(topic, partition))?.position;
  }

  /** Resolves 'earliest', 'latest' or a time to an offset with ListOffsets (-1: no record that late). */
  async offsetFor(topic: string, partition: number, target: Exclude<SeekTarget, number>): Promise<number> {
    const timestamp = target === 'earliest' ? EARLIEST_TIMESTAMP : target === 'latest' ? LATEST_TIMESTAMP : target.timestamp;
    const response = await this.#connection.request<'listOffsets'>(Api.LIST_OFFSETS, { topics: [{ name: topic, partitions: [{ partition, timestamp }] }] });
    const result = response.topics[0]?.partitions[0];
    if (result === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', 'ListOffsets answered with no partition');
    if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    if (result.offset < 0 && typeof target === 'object') return this.offsetFor(topic, partition, 'latest');
    return result.offset;
  }

  /** Up to maxPollRecords records, waiting up to `timeoutMs` for the first. */
  async poll(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ConsumerRecord[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    for (;;) {
      if (this.#error !== undefined) {
        const error = this.#error;
        this.#error = undefined;
        throw error;
      }
      const records = this.#take();
      if (records.length > 0 || this.#closed || Date.now() >= deadline || options.signal?.aborted) return records;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
        options.signal?.addEventListener('abort', () => this.#wake?.(), { once: true });
      });
    }
  }

  #dropBuffered(state: PartitionState): void {
    this.#buffer = this.#buffer.filter((entry) => {
      if (entry.state !== state) return true;
      this.#bufferedRecords -= entry.records.length - entry.next;
      return false;
    });
  }

  #take(): ConsumerRecord[] {
    const taken: ConsumerRecord[] = [];
    let used = 0;
    while (used < this.#buffer.length && taken.length < this.#options.maxPollRecords) {
      const entry = this.#buffer[used]!;
      const { state, records } = entry;
      const count = Math.min(records.length - entry.next, this.#options.maxPollRecords - taken.length);
      if (entry.epoch === state.epoch) {
        for (let index = entry.next; index < entry.next + count; index += 1) taken.push(records[index]!);
        if (count > 0) state.position = records[entry.next + count - 1]!.offset + 1;
      }
      entry.next += count;
      this.#bufferedRecords -= count;
      if (entry.next === records.length) used += 1;
    }
    if (used > 0) this.#buffer.splice(0, used);
    if (taken.length > 0) this.#startFetching();
    return taken;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord> {
    while (!this.#closed) {
      for (const record of await this.poll({ timeoutMs: 1000 })) yield record;
    }
  }

  #startFetching(): void {
    if (this.#fetching !== undefined || this.#closed || this.#partitions.size === 0) return;
    this.#fetching = this.#fetchLoop().finally(() => { this.#fetching = undefined; });
  }

  /**
   * Keeps one fetch in flight while the previous response is decoded: the next fetch offsets
   * come from the batch headers alone, so the broker prepares the next response (on the other
   * core) while this process decodes records.
   */
  async #fetchLoop(): Promise<void> {
    let backoffMs = 50;
    let next: Promise<FetchRound> | undefined;
    while (!this.#closed && this.#error === undefined) {
      try {
        if (next === undefined) {
          if (this.#bufferedRecords >= this.#options.bufferedRecordsMax) return;
          await this.#resolvePositions();
          next = this.#sendFetch();
        }
        const round = await next;
        next = undefined;
        const decodes = this.#advance(round);
        const positionsKnown = [...this.#partitions.values()].every((state) => state.fetchOffset !== undefined);
        if (positionsKnown && this.#bufferedRecords < this.#options.bufferedRecordsMax) next = this.#sendFetch();
        for (const decode of decodes) this.#decode(decode);
        this.#wake?.();
        backoffMs = 50;
      } catch (error) {
        next = undefined;
        if (this.#closed) return;
        if (!SluiceError.is(error) || !error.retriable) {
          this.#error = error;
          this.#wake?.();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 2000);
      }
    }
  }

  /**
   * Commits offsets to the group: the given ones, or every partition's consumed position
   * (the next offset to read). Resolves once the broker stored them.
   */
  async commit(offsets?: Array<{ topic: string; partition: number; offset: number }>): Promise<void> {
    const groupId = this.#options.groupId;
    if (groupId === undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'commit() needs a consumer created with a groupId');
    const states = [...this.#partitions.values()];
    const entries = offsets ?? states.filter((state) => state.position !== undefined && this.#committed.get(state) !== state.position)
      .map((state) => ({ topic: state.topic, partition: state.partition, offset: state.position! }));
    if (entries.length === 0) return;
    const byTopic = new Map<string, Array<{ partition: number; offset: number }>>();
    for (const entry of entries) byTopic.set(entry.topic, [...(byTopic.get(entry.topic) ?? []), { partition: entry.partition, offset: entry.offset }]);
    const response = await this.#connection.request<'offsetCommit'>(Api.OFFSET_COMMIT, {
      groupId,
      generationId: this.#member?.generationId ?? -1,
      memberId: this.#member?.memberId ?? '',
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    });
    for (const topic of response.topics) {
      for (const result of topic.partitions) if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    }
    for (const entry of entries) {
      const state = this.#partitions.get(key(entry.topic, entry.partition));
      if (state !== undefined) this.#committed.set(state, entry.offset);
    }
  }

  /** The group's committed offsets for the given topics. */
  async committed(topics: string[]): Promise<Map<string, number>> {
    const groupId = this.#options.groupId;
    if (groupId === undefined) return new Map();
    const response = await this.#connection.request<'offsetFetch'>(Api.OFFSET_FETCH, { groupId, topics });
    const offsets = new Map<string, number>();
    for (const topic of response.topics) for (const partition of topic.partitions) offsets.set(key(topic.name, partition.partition), partition.offset);
    return offsets;
  }

  async #resolvePositions(): Promise<void> {
    const unresolved = [...this.#partitions.values()].filter((state) => state.fetchOffset === undefined && !state.skipCommitted);
    if (unresolved.length === 0) return;
    const committed = await this.committed([...new Set(unresolved.map((state) => state.topic))]);
    for (const state of unresolved) {
      const offset = committed.get(key(state.topic, state.partition));
      if (offset === undefined || state.fetchOffset !== undefined) continue;
      state.position = offset;
      state.fetchOffset = offset;
      this.#committed.set(state, offset);
    }
    for (const state of this.#partitions.values()) {
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

  #sendFetch(): Promise<FetchRound> {
    const states = [...this.#partitions.values()];
    const epochs = states.map((state) => state.epoch);
    const offsets = states.map((state) => state.fetchOffset!);
    const byTopic = new Map<string, Array<{ partition: number; fetchOffset: number; maxBytes: number }>>();
    states.forEach((state, index) => {
      const list = byTopic.get(state.topic) ?? [];
      list.push({ partition: state.partition, fetchOffset: offsets[index]!, maxBytes: this.#options.partitionMaxBytes });
      byTopic.set(state.topic, list);
    });
    const request = this.#connection.request<'fetch'>(Api.FETCH, {
      maxWaitMs: this.#options.maxWaitMs,
      minBytes: this.#options.minBytes,
      maxBytes: this.#options.maxBytes,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    }, { signal: this.#abort.signal, timeoutMs: this.#connection.options.requestTimeoutMs + this.#options.maxWaitMs });
    const round = request.then((response) => ({ response, states, epochs, offsets }));
    round.catch(() => {});
    return round;
  }

  /**
   * Checks every batch of a response (CRC) and moves each partition's fetch offset past it;
   * returns what is left to decode. Results for a partition that was sought since, or whose
   * offset moved on, are dropped.
   */
  #advance(round: FetchRound): PendingDecode[] {
    const decodes: PendingDecode[] = [];
    for (const topic of round.response.topics) {
      for (const result of topic.partitions) {
        const index = round.states.findIndex((state) => state.topic === topic.name && state.partition === result.partition);
        const state = round.states[index];
        if (state === undefined || state.epoch !== round.epochs[index] || state.fetchOffset !== round.offsets[index]) continue;
        if (result.errorCode !== 0) {
          if (result.errorCode === 1) {
            const error = new OffsetOutOfRangeError(state.fetchOffset!, result.logStartOffset, result.highWatermark);
            if (this.#options.autoOffsetReset === 'none') throw error;
            state.fetchOffset = undefined;
            state.skipCommitted = true;
            continue;
          }
          throw errorFromWire(result.errorCode, result.errorMessage);
        }
        state.highWatermark = result.highWatermark;
        const records = result.records;
        const fromOffset = state.fetchOffset!;
        let next = fromOffset;
        for (let position = 0; position < records.length;) {
          const size = checkBatch(records, position, records.length);
          next = Math.max(next, batchLastOffset(records, position) + 1);
          position += size;
        }
        state.fetchOffset = next;
        if (records.length > 0) decodes.push({ state, epoch: state.epoch, records, fromOffset });
      }
    }
    return decodes;
  }

  /** Decodes one partition's checked batches into the buffer. */
  #decode({ state, epoch, records, fromOffset }: PendingDecode): void {
    if (state.epoch !== epoch) return;
    for (let position = 0; position < records.length;) {
      const size = BATCH_LOG_OVERHEAD + records.readInt32BE(position + BATCH_LENGTH_OFFSET);
      let decoded = decodeRecords(records.subarray(position, position + size), { topic: state.topic, partition: state.partition });
      if (decoded.length > 0 && decoded[0]!.offset < fromOffset) decoded = decoded.filter((record) => record.offset >= fromOffset);
      if (decoded.length > 0) {
        this.#buffer.push({ state, epoch, records: decoded, next: 0 });
        this.#bufferedRecords += decoded.length;
      }
      position += size;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#autoCommitTimer);
    if (this.#options.groupId !== undefined && this.#options.autoCommit && !this.#closed) await this.commit().catch(() => {});
    this.#closed = true;
    await this.#member?.leave();
    this.#abort.abort();
    this.#wake?.();
    await this.#fetching?.catch(() => {});
  }
}
