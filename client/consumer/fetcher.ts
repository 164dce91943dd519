/**
 * Fetching and buffering: assigned partitions are fetched in the background (long polls, so
 * new records arrive as soon as they are appended) while the application processes what it
 * has. Every batch is checked (CRC-32C) and decompressed before its records are buffered.
 * Records leave the buffer only when they are handed out, and handing a record out is what
 * moves its partition's position; a seek or an unassignment drops the partition's buffered
 * records, so nothing fetched for an old position is ever handed out.
 */
import type { BrokerConnection } from '../connection.js';
import { errorFromWire, OffsetOutOfRangeError, SluiceError } from '../../proto/errors.js';
import { Api, type FetchResponse } from '../../proto/messages.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { batchLastOffset, checkMagicAndCrc, type DecodedRecord, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { type PartitionState, partitionKey, type Positions } from './positions.js';

export interface FetcherOptions {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
  /** Records fetched ahead and not yet handed out; fetching pauses above this. */
  bufferedRecordsMax: number;
  autoOffsetReset: 'earliest' | 'latest' | 'none';
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

interface FetchRound {
  response: FetchResponse;
  asked: Map<string, Asked>;
}

interface PendingDecode {
  state: PartitionState;
  epoch: number;
  records: Buffer;
  fromOffset: number;
}

/** One decoded batch of a partition; `next` is the first record not handed out. */
interface Buffered {
  state: PartitionState;
  epoch: number;
  records: DecodedRecord[];
  next: number;
}

export class Fetcher {
  readonly #connection: BrokerConnection;
  readonly #positions: Positions;
  readonly #options: FetcherOptions;
  readonly #events: FetcherEvents;
  /** Decoded batches not yet handed out, oldest first. */
  #buffer: Buffered[] = [];
  #bufferedRecords = 0;
  #fetching: Promise<void> | undefined;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(connection: BrokerConnection, positions: Positions, options: FetcherOptions, events: FetcherEvents) {
    this.#connection = connection;
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
      if (record === undefined || entry.epoch !== entry.state.epoch) continue;
      entry.state.position = record.offset + 1;
      this.start();
      return record;
    }
    return undefined;
  }

  /**
   * Keeps one fetch in flight while the previous response is decoded: the next fetch offsets
   * come from the batch headers alone, so the broker prepares the next response (on the other
   * core) while this process decodes records.
   */
  async #fetchLoop(): Promise<void> {
    let backoffMs = 50;
    let next: Promise<FetchRound> | undefined;
    while (!this.#stopped && !this.#events.failed()) {
      try {
        if (next === undefined) {
          if (this.#bufferedRecords >= this.#options.bufferedRecordsMax) return;
          await this.#positions.resolve();
          next = this.#sendFetch();
        }
        const round = await next;
        next = undefined;
        const decodes = this.#advance(round);
        if (this.#positions.allResolved() && this.#bufferedRecords < this.#options.bufferedRecordsMax) next = this.#sendFetch();
        for (const decode of decodes) this.#decode(decode);
        this.#events.onRecords();
        backoffMs = 50;
      } catch (error) {
        next = undefined;
        if (this.#stopped) return;
        if (!SluiceError.is(error) || !error.retriable) {
          this.#events.onError(error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 2000);
      }
    }
  }

  #sendFetch(): Promise<FetchRound> {
    const asked = new Map<string, Asked>();
    const byTopic = new Map<string, Array<{ partition: number; fetchOffset: number; maxBytes: number }>>();
    for (const state of this.#positions.values()) {
      const offset = state.fetchOffset!;
      asked.set(partitionKey(state.topic, state.partition), { state, epoch: state.epoch, offset });
      let partitions = byTopic.get(state.topic);
      if (partitions === undefined) byTopic.set(state.topic, partitions = []);
      partitions.push({ partition: state.partition, fetchOffset: offset, maxBytes: this.#options.partitionMaxBytes });
    }
    const request = this.#connection.request<'fetch'>(Api.FETCH, {
      maxWaitMs: this.#options.maxWaitMs,
      minBytes: this.#options.minBytes,
      maxBytes: this.#options.maxBytes,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    }, { signal: this.#abort.signal, timeoutMs: this.#connection.options.requestTimeoutMs + this.#options.maxWaitMs });
    const round = request.then((response) => ({ response, asked }));
    round.catch(() => {});
    return round;
  }

  /**
   * Checks every batch of a response (CRC) and moves each partition's fetch offset past it;
   * returns what is left to decode. Results for a partition that was sought or unassigned
   * since, or whose fetch offset moved on, are dropped.
   */
  #advance(round: FetchRound): PendingDecode[] {
    const decodes: PendingDecode[] = [];
    for (const topic of round.response.topics) {
      for (const result of topic.partitions) {
        const asked = round.asked.get(partitionKey(topic.name, result.partition));
        if (asked === undefined) continue;
        const { state } = asked;
        if (state.epoch !== asked.epoch || state.fetchOffset !== asked.offset) continue;
        if (result.errorCode !== 0) {
          if (result.errorCode === 1) {
            const error = new OffsetOutOfRangeError(asked.offset, result.logStartOffset, result.highWatermark);
            if (this.#options.autoOffsetReset === 'none') throw error;
            state.fetchOffset = undefined;
            state.skipCommitted = true;
            continue;
          }
          throw errorFromWire(result.errorCode, result.errorMessage);
        }
        state.highWatermark = result.highWatermark;
        const records = result.records;
        let next = asked.offset;
        for (const { position, size } of eachBatch(records)) {
          checkMagicAndCrc(records, position, size);
          next = Math.max(next, batchLastOffset(records, position) + 1);
        }
        state.fetchOffset = next;
        if (records.length > 0) decodes.push({ state, epoch: state.epoch, records, fromOffset: asked.offset });
      }
    }
    return decodes;
  }

  /** Decodes one partition's checked batches into the buffer. */
  #decode({ state, epoch, records, fromOffset }: PendingDecode): void {
    if (state.epoch !== epoch) return;
    for (const { position, size } of eachBatch(records)) {
      let decoded = decodeRecords(records.subarray(position, position + size), { topic: state.topic, partition: state.partition });
      if (decoded.length > 0 && decoded[0]!.offset < fromOffset) decoded = decoded.filter((record) => record.offset >= fromOffset);
      if (decoded.length > 0) {
        this.#buffer.push({ state, epoch, records: decoded, next: 0 });
        this.#bufferedRecords += decoded.length;
      }
    }
  }

  /** Stops fetching: the fetch in flight is aborted and the loop has ended when this resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#fetching?.catch(() => {});
  }
}
