/**
 * Fetching and buffering: assigned partitions are fetched in the background (long polls, so
 * new records arrive as soon as they are appended) while the application processes what it
 * has. Every batch is checked (CRC-32C) and decompressed before its records are buffered.
 * Records leave the buffer only when they are handed out, and handing a record out is what
 * moves its partition's position; a seek or an unassignment drops the partition's buffered
 * records, so nothing fetched for an old position is ever handed out.
 *
 * Control batches (transaction markers) are never handed out. With read_committed the broker
 * reads only up to the last stable offset and lists the aborted transactions overlapping its
 * answer; their batches are dropped as Kafka's consumer does: a producer's transactional batches
 * from an aborted transaction's first offset up to that producer's ABORT marker.
 */
import type { BrokerConnection } from '../connection.js';
import type { ClientLogger } from '../logger.js';
import { leaderConnectTimeoutMs, type MetadataCache } from '../metadata.js';
import { errorCodes, errorFromWire, OffsetOutOfRangeError, SluiceError } from '../../proto/errors.js';
import { type AbortedTransaction, Api, type FetchPartition, type FetchResponse, IsolationLevel } from '../../proto/messages.js';
import { CONTROL_TYPE_ABORT, readControlRecord } from '../../proto/record-batch/control-batch.js';
import { ATTRIBUTE_CONTROL_MASK, ATTRIBUTE_TRANSACTIONAL_MASK, ATTRIBUTES_OFFSET, PRODUCER_ID_OFFSET } from '../../proto/record-batch/layout.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { batchLastOffset, checkMagicAndCrc, type DecodedRecord, decodeRecords, readInt64 } from '../../proto/record-batch/record-batch.js';
import { type PartitionState, partitionKey, type Positions } from './positions.js';

export interface FetcherOptions {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
  /** Records fetched ahead and not yet handed out; fetching pauses above this. */
  bufferedRecordsMax: number;
  autoOffsetReset: 'earliest' | 'latest' | 'none';
  isolationLevel: 'read_committed' | 'read_uncommitted';
}

export interface FetcherEvents {
  /** New records were buffered. */
  onRecords: () => void;
  /** Fetching stopped on an error a retry cannot fix. */
  onError: (error: unknown) => void;
  /** An error is waiting to be thrown to the application: fetching pauses until it is. */
  failed: () => boolean;
}

/** What a fetch asked for one partition, to check its result against. */
interface Asked {
  state: PartitionState;
  epoch: number;
  offset: number;
}

/** One leader's answer to a fetch (or why there is none). */
interface FetchRound {
  nodeId: number;
  response?: FetchResponse;
  error?: unknown;
  asked: Map<string, Asked>;
}

interface PendingDecode {
  state: PartitionState;
  epoch: number;
  records: Buffer;
  fromOffset: number;
  /** read_committed: the aborted transactions the broker listed, by first offset. */
  aborted: AbortedTransaction[];
}

/** One decoded batch of a partition; `next` is the first record not handed out. */
interface Buffered {
  state: PartitionState;
  epoch: number;
  records: DecodedRecord[];
  next: number;
  /**
   * A batch that is not handed out (a marker, an aborted transaction's): no records, and the
   * position moves past it when its turn comes, so a reader caught up with the log end is at it.
   */
  skipTo?: number;
}

export class Fetcher {
  readonly #metadata: MetadataCache;
  readonly #logger: ClientLogger;
  readonly #positions: Positions;
  readonly #options: FetcherOptions;
  readonly #events: FetcherEvents;
  /** Decoded batches not yet handed out, oldest first. */
  #buffer: Buffered[] = [];
  #bufferedRecords = 0;
  #fetching: Promise<void> | undefined;
  /** The fetch in flight to each leader, by node id, and the partitions it asked for. */
  readonly #inflight = new Map<number, Promise<FetchRound>>();
  readonly #busy = new Set<PartitionState>();
  /** Partitions waiting for fresh metadata, and when to try them again. */
  readonly #retryAt = new Map<PartitionState, number>();
  readonly #retryBackoffMs = 100;
  #refreshing: Promise<void> | undefined;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(metadata: MetadataCache, logger: ClientLogger, positions: Positions, options: FetcherOptions, events: FetcherEvents) {
    this.#metadata = metadata;
    this.#logger = logger;
    this.#positions = positions;
    this.#options = options;
    this.#events = events;
  }

  /** Starts the fetch loop if it is not running and there is something to fetch. */
  start(): void {
    if (this.#fetching !== undefined || this.#stopped || this.#positions.size === 0) return;
    this.#fetching = this.#fetchLoop().finally(() => { this.#fetching = undefined; });
  }

  /** Forgets a partition's buffered records (after a seek or an unassignment). */
  drop(state: PartitionState): void {
    this.#buffer = this.#buffer.filter((entry) => {
      if (entry.state !== state) return true;
      this.#bufferedRecords -= entry.records.length - entry.next;
      return false;
    });
  }

  clear(): void {
    this.#retryAt.clear();
    this.#buffer = [];
    this.#bufferedRecords = 0;
  }

  /** Hands out up to `max` records, in offset order per partition; their positions move past them. */
  take(max: number): DecodedRecord[] {
    const taken: DecodedRecord[] = [];
    let used = 0;
    while (used < this.#buffer.length && taken.length < max) {
      const entry = this.#buffer[used]!;
      const { state, records } = entry;
      const count = Math.min(records.length - entry.next, max - taken.length);
      if (entry.epoch === state.epoch) {
        for (let index = entry.next; index < entry.next + count; index += 1) taken.push(records[index]!);
        if (count > 0) state.position = records[entry.next + count - 1]!.offset + 1;
        if (entry.skipTo !== undefined) state.position = entry.skipTo;
      }
      entry.next += count;
      this.#bufferedRecords -= count;
      if (entry.next === records.length) used += 1;
    }
    if (used > 0) this.#buffer.splice(0, used);
    if (taken.length > 0) this.start();
    return taken;
  }

  /** Hands out the next record, if one is buffered; its partition's position moves past it. */
  takeOne(): DecodedRecord | undefined {
    while (this.#buffer.length > 0) {
      const entry = this.#buffer[0]!;
      const record = entry.records[entry.next];
      if (record !== undefined) {
        entry.next += 1;
        this.#bufferedRecords -= 1;
      }
      if (entry.next >= entry.records.length) this.#buffer.shift();
      if (entry.skipTo !== undefined && entry.epoch === entry.state.epoch) entry.state.position = entry.skipTo;
      if (record === undefined || entry.epoch !== entry.state.epoch) continue;
      entry.state.position = record.offset + 1;
      this.start();
      return record;
    }
    return undefined;
  }

  /**
   * Keeps one fetch in flight per leader: each partition is fetched from its leader (with the
   * leader epoch the metadata gave), and a leader's next fetch is sent as soon as its previous
   * answer is in, before that answer is decoded (the next fetch offsets come from the batch
   * headers alone), so the broker prepares the next response on the other core while this
   * process decodes records, and a quiet leader's long poll never holds up a busy one.
   */
  async #fetchLoop(): Promise<void> {
    let backoffMs = 50;
    try {
      while (!this.#stopped && !this.#events.failed()) {
        try {
          const room = this.#bufferedRecords < this.#options.bufferedRecordsMax;
          if (room) {
            await this.#positions.resolve();
            this.#sendFetches();
          }
          if (this.#inflight.size === 0 && (!room || this.#positions.size === 0)) return;
          const round = await this.#nextRound();
          if (round === undefined) continue;
          this.#inflight.delete(round.nodeId);
          for (const asked of round.asked.values()) this.#busy.delete(asked.state);
          if (round.error !== undefined) {
            if (this.#stopped) return;
            if (!SluiceError.is(round.error) || !round.error.retriable) throw round.error;
            this.#leaderFailed([...round.asked.values()].map((asked) => asked.state));
            continue;
          }
          const decodes = this.#advance(round);
          if (this.#bufferedRecords < this.#options.bufferedRecordsMax) this.#sendFetches();
          for (const decode of decodes) this.#decode(decode);
          this.#events.onRecords();
          backoffMs = 50;
        } catch (error) {
          if (this.#stopped) return;
          if (!SluiceError.is(error) || !error.retriable) {
            this.#events.onError(error);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, backoffMs));
          backoffMs = Math.min(backoffMs * 2, 2000);
        }
      }
    } finally {
      // Answers still in flight are dropped: their partitions are fetched again on restart.
      this.#inflight.clear();
      this.#busy.clear();
    }
  }

  /** The next leader's answer, or undefined when a partition waiting on fresh metadata may be tried again. */
  async #nextRound(): Promise<FetchRound | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const waits: Array<Promise<FetchRound | undefined>> = [...this.#inflight.values()];
    const now = Date.now();
    let retryAt = Infinity;
    for (const at of this.#retryAt.values()) retryAt = Math.min(retryAt, at);
    if (retryAt < Infinity || waits.length === 0) {
      waits.push(new Promise((resolve) => { timer = setTimeout(() => resolve(undefined), Math.max(1, Math.min(retryAt, now + 100) - now)); }));
    }
    try {
      return await Promise.race(waits);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a fetch to every leader that has partitions ready and none in flight. A partition
   * whose leader the metadata does not know waits for a refresh.
   */
  #sendFetches(): void {
    const now = Date.now();
    const byNode = new Map<number, { connection: BrokerConnection; states: Array<{ state: PartitionState; leaderEpoch: number }> }>();
    for (const state of this.#positions.values()) {
      if (state.fetchOffset === undefined || this.#busy.has(state)) continue;
      const retryAt = this.#retryAt.get(state);
      if (retryAt !== undefined) {
        if (retryAt > now) continue;
        this.#retryAt.delete(state);
      }
      const metadata = this.#metadata.partition(state.topic, state.partition);
      const connection = metadata === undefined || metadata.leader < 0 ? undefined : this.#metadata.pool.node(metadata.leader);
      if (metadata === undefined || connection === undefined) {
        this.#leaderFailed([state]);
        continue;
      }
      if (this.#inflight.has(metadata.leader)) continue;
      let group = byNode.get(metadata.leader);
      if (group === undefined) byNode.set(metadata.leader, group = { connection, states: [] });
      group.states.push({ state, leaderEpoch: metadata.leaderEpoch ?? 0 });
    }
    for (const [nodeId, { connection, states }] of byNode) {
      const round = this.#sendFetch(nodeId, connection, states);
      for (const { state } of states) this.#busy.add(state);
      this.#inflight.set(nodeId, round);
    }
  }

  /** Partitions whose leader failed them wait a little, while the metadata is refreshed. */
  #leaderFailed(states: PartitionState[]): void {
    const at = Date.now() + this.#retryBackoffMs;
    for (const state of states) this.#retryAt.set(state, at);
    if (this.#refreshing !== undefined) return;
    const unknown = [...new Set(states.filter((state) => this.#metadata.partition(state.topic, state.partition) === undefined).map((state) => state.topic))];
    const refreshed = unknown.length > 0 ? Promise.all(unknown.map((topic) => this.#metadata.topic(topic, { signal: this.#abort.signal }))) : this.#metadata.refresh(this.#abort.signal);
    this.#refreshing = refreshed.then(() => {
      // A partition the topic does not have will not appear by waiting.
      const absent = states.find((state) => this.#metadata.partition(state.topic, state.partition) === undefined);
      if (absent !== undefined && !this.#stopped) {
        this.#events.onError(new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${absent.topic} has no partition ${absent.partition}`));
      }
    }, (error: unknown) => {
      if (SluiceError.is(error) && !error.retriable && !this.#stopped) this.#events.onError(error);
    }).finally(() => { this.#refreshing = undefined; });
  }

  #sendFetch(nodeId: number, connection: BrokerConnection, states: Array<{ state: PartitionState; leaderEpoch: number }>): Promise<FetchRound> {
    const asked = new Map<string, Asked>();
    const byTopic = new Map<string, FetchPartition[]>();
    for (const { state, leaderEpoch } of states) {
      const offset = state.fetchOffset!;
      asked.set(partitionKey(state.topic, state.partition), { state, epoch: state.epoch, offset });
      let partitions = byTopic.get(state.topic);
      if (partitions === undefined) byTopic.set(state.topic, partitions = []);
      partitions.push({ partition: state.partition, fetchOffset: offset, maxBytes: this.#options.partitionMaxBytes, currentLeaderEpoch: leaderEpoch });
    }
    return connection.request<'fetch'>(Api.FETCH, {
      maxWaitMs: this.#options.maxWaitMs,
      minBytes: this.#options.minBytes,
      maxBytes: this.#options.maxBytes,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
      isolationLevel: this.#options.isolationLevel === 'read_committed' ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED,
    }, {
      signal: this.#abort.signal, timeoutMs: connection.options.requestTimeoutMs + this.#options.maxWaitMs,
      connectTimeoutMs: Math.min(connection.options.connectTimeoutMs, leaderConnectTimeoutMs),
    })
      .then((response): FetchRound => ({ nodeId, response, asked }), (error: unknown): FetchRound => ({ nodeId, error, asked }));
  }

  /**
   * Checks every batch of a response (CRC) and moves each partition's fetch offset past it;
   * returns what is left to decode. Results for a partition that was sought or unassigned
   * since, or whose fetch offset moved on, are dropped. A partition whose leader moved waits
   * for fresh metadata; one whose position is out of the leader's range (after a truncation,
   * or retention) starts again where autoOffsetReset says.
   */
  #advance(round: FetchRound): PendingDecode[] {
    const decodes: PendingDecode[] = [];
    const moved: PartitionState[] = [];
    for (const topic of round.response!.topics) {
      for (const result of topic.partitions) {
        const asked = round.asked.get(partitionKey(topic.name, result.partition));
        if (asked === undefined) continue;
        const { state } = asked;
        if (state.epoch !== asked.epoch || state.fetchOffset !== asked.offset) continue;
        if (result.errorCode !== 0) {
          if (result.errorCode === errorCodes.SLUICE_ERR_OFFSET_OUT_OF_RANGE.wire) {
            const error = new OffsetOutOfRangeError(asked.offset, result.logStartOffset, result.highWatermark);
            if (this.#options.autoOffsetReset === 'none') throw error;
            this.#logger.warn({ topic: state.topic, partition: state.partition, fetchOffset: asked.offset, logStartOffset: result.logStartOffset, highWatermark: result.highWatermark, reset: this.#options.autoOffsetReset },
              `fetch offset ${asked.offset} of ${state.topic}/${state.partition} is out of the leader's range (a leader change truncated the log, or retention deleted it); resetting to ${this.#options.autoOffsetReset}`);
            state.fetchOffset = undefined;
            state.skipCommitted = true;
            continue;
          }
          // Any retriable answer waits for the partition's turn again (after a metadata refresh);
          // throwing here would drop what the other partitions of this answer brought.
          const error = errorFromWire(result.errorCode, result.errorMessage);
          if (!error.retriable) throw error;
          moved.push(state);
          continue;
        }
        state.highWatermark = result.highWatermark;
        const records = result.records;
        let next = asked.offset;
        for (const { position, size } of eachBatch(records)) {
          checkMagicAndCrc(records, position, size);
          next = Math.max(next, batchLastOffset(records, position) + 1);
        }
        state.fetchOffset = next;
        if (records.length > 0) decodes.push({ state, epoch: state.epoch, records, fromOffset: asked.offset, aborted: result.abortedTransactions ?? [] });
      }
    }
    if (moved.length > 0) this.#leaderFailed(moved);
    return decodes;
  }

  /** Decodes one partition's checked batches into the buffer. */
  #decode({ state, epoch, records, fromOffset, aborted }: PendingDecode): void {
    if (state.epoch !== epoch) return;
    const readCommitted = this.#options.isolationLevel === 'read_committed';
    const pending = readCommitted ? [...aborted].sort((a, b) => a.firstOffset - b.firstOffset) : [];
    const abortedProducers = new Set<number>();
    for (const { position, size } of eachBatch(records)) {
      const attributes = records.readInt16BE(position + ATTRIBUTES_OFFSET);
      const control = (attributes & ATTRIBUTE_CONTROL_MASK) !== 0;
      if (readCommitted && records.readInt32BE(position + PRODUCER_ID_OFFSET) >= 0) {
        const lastOffset = batchLastOffset(records, position);
        while (pending.length > 0 && pending[0]!.firstOffset <= lastOffset) abortedProducers.add(pending.shift()!.producerId);
        const producerId = readInt64(records, position + PRODUCER_ID_OFFSET);
        if (control) {
          if (isAbortMarker(records, position, size)) abortedProducers.delete(producerId);
        } else if ((attributes & ATTRIBUTE_TRANSACTIONAL_MASK) !== 0 && abortedProducers.has(producerId)) {
          this.#skip(state, epoch, records, position, fromOffset);
          continue;
        }
      }
      if (control) {
        this.#skip(state, epoch, records, position, fromOffset);
        continue;
      }
      let decoded = decodeRecords(records.subarray(position, position + size), { topic: state.topic, partition: state.partition });
      if (decoded.length > 0 && decoded[0]!.offset < fromOffset) decoded = decoded.filter((record) => record.offset >= fromOffset);
      if (decoded.length > 0) {
        this.#buffer.push({ state, epoch, records: decoded, next: 0 });
        this.#bufferedRecords += decoded.length;
      }
    }
  }

  /** A batch not handed out: the position moves past it in its turn. */
  #skip(state: PartitionState, epoch: number, records: Buffer, position: number, fromOffset: number): void {
    const next = batchLastOffset(records, position) + 1;
    if (next > fromOffset) this.#buffer.push({ state, epoch, records: [], next: 0, skipTo: next });
  }

  /** Stops fetching: the fetch in flight is aborted and the loop has ended when this resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#fetching?.catch(() => {});
  }
}

/** Whether a control batch is an ABORT marker (its CRC was checked when it arrived). */
function isAbortMarker(records: Buffer, position: number, size: number): boolean {
  return readControlRecord(records.subarray(position, position + size)).type === CONTROL_TYPE_ABORT;
}
