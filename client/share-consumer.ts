/**
 * The share consumer (queues on the log): `sluice.consumer({ groupId, share: true })`. Any
 * number of members consume the same partitions; the group's coordinator hands each record to
 * one member at a time, under a lock that expires, and counts its deliveries. A record comes
 * with `ack()`, `release({ delayMs })`, `reject(reason)` and `renew()`; `poll()` and
 * `for await` hand records out as the classic consumer does.
 *
 * Acknowledgements are merged into offset ranges (share/ack-batcher.ts) and ride on the next
 * ShareFetch; when no fetch goes out within `ackLingerMs` they are sent on their own
 * (ShareAcknowledge). Each one's promise settles with the coordinator's answer. Fetching
 * keeps at most `maxInFlight` records held (acquired and not yet acknowledged) and fetches
 * again once the records it has are handed out, so it never holds locks on records the
 * application has not reached. A buffered record whose lock ran out is never handed out: the
 * coordinator may have given it to another member. close() sends what was acknowledged and
 * leaves the group, which releases what the member still holds.
 */
import { errorFromWire, SluiceError } from '../proto/errors.js';
import { Api, type ShareAckTypeValue, ShareAckType, type ShareFetchResponse } from '../proto/messages.js';
import { Handout } from './consumer/handout.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { type ClientLogger, defaultLogger } from './logger.js';
import type { MetadataCache } from './metadata.js';
import { type AckBatch, failBatch, oneByOne, type PendingAck, settle, toRanges } from './share/ack-batcher.js';
import { acquiredRecords } from './share/acquired-records.js';
import { type RecordOwner, ShareRecord } from './share/share-record.js';
import { ShareMembership } from './share/share-membership.js';

export { ShareRecord } from './share/share-record.js';

export interface ShareConsumerOptions {
  groupId: string;
  share: true;
  /** Records this member holds at most (acquired, not yet acknowledged); the group's share.member.max.in.flight caps it. Default 500. */
  maxInFlight?: number;
  /** The lock each acquired record gets; default the group's share.record.lock.duration.ms (30 s). */
  lockMs?: number;
  /** Longest a fetch waits on the coordinator for records to become available. */
  maxWaitMs?: number;
  maxBytes?: number;
  /** Without a heartbeat for this long the coordinator drops the member and releases its records (default 10 s). */
  sessionTimeoutMs?: number;
  /** Longest an acknowledgement waits for a fetch to carry it before it is sent alone (default 10 ms). */
  ackLingerMs?: number;
  maxPollRecords?: number;
}

type Settings = Required<Omit<ShareConsumerOptions, 'share'>>;

const notHeld = (detail: string, cause?: unknown) => new SluiceError('SLUICE_ERR_INVALID_RECORD_STATE', detail, cause === undefined ? undefined : { cause });

export class ShareConsumer {
  readonly #coordinator: GroupCoordinator;
  readonly #logger: ClientLogger;
  readonly #options: Settings;
  #membership: ShareMembership | undefined;
  /** Records fetched and not yet handed out, in order; `#next` is the first left. */
  #buffer: ShareRecord[] = [];
  #next = 0;
  /** Records acquired by this member with no final acknowledgement queued. */
  readonly #held = new Set<ShareRecord>();
  #pending: PendingAck[] = [];
  #lingerTimer: NodeJS.Timeout | undefined;
  /** Acknowledgements sent and not answered yet (alone, or riding on a fetch). */
  readonly #sending = new Set<Promise<void>>();
  #lockDurationMs = 30_000;
  #fetching: Promise<void> | undefined;
  #fetchCarriesAcks = false;
  readonly #fetchAbort = new AbortController();
  /** Aborted by close(): the fetcher stops waiting for a member id. */
  readonly #stopSignal = new AbortController();
  #wakeFetcher: (() => void) | undefined;
  #wakeScheduled = false;
  readonly #handout = new Handout();
  #closed = false;
  /** Set once the member has left: acknowledgements can no longer hold. */
  #left = false;
  #closing: Promise<void> | undefined;

  constructor(metadata: MetadataCache, options: ShareConsumerOptions, logger: ClientLogger = defaultLogger()) {
    if (typeof options.groupId !== 'string' || options.groupId === '') throw new SluiceError('SLUICE_ERR_CONFIG', 'a share consumer needs a groupId');
    this.#logger = logger;
    this.#options = {
      maxInFlight: 500, lockMs: 0, maxWaitMs: 500, maxBytes: 50 * 1024 * 1024, sessionTimeoutMs: 10_000, ackLingerMs: 10, maxPollRecords: 500,
      ...options,
    };
    if (!Number.isInteger(this.#options.maxInFlight) || this.#options.maxInFlight < 1) throw new SluiceError('SLUICE_ERR_CONFIG', `maxInFlight must be a whole number of at least 1, got ${this.#options.maxInFlight}`);
    if (this.#options.lockMs > 0) this.#lockDurationMs = this.#options.lockMs;
    this.#coordinator = new GroupCoordinator(metadata, options.groupId);
  }

  /** The id the coordinator gave this member ('' until it has joined). */
  get memberId(): string {
    return this.#membership?.memberId ?? '';
  }

  /** Records this member holds now (handed out or buffered, with no final acknowledgement). */
  get inFlight(): number {
    return this.#held.size;
  }

  /** Joins the group and consumes every partition of `topics`, shared with the other members. */
  subscribe(topics: string[]): void {
    if (this.#membership !== undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'this share consumer is already subscribed');
    if (topics.length === 0) throw new SluiceError('SLUICE_ERR_CONFIG', 'subscribe() needs at least one topic');
    this.#membership = new ShareMembership(this.#coordinator, {
      groupId: this.#options.groupId, topics: [...topics], maxInFlight: this.#options.maxInFlight, sessionTimeoutMs: this.#options.sessionTimeoutMs,
      onJoined: () => this.#forgetHeld(),
      onError: (error) => this.#handout.fail(error),
    }, this.#logger);
    this.#membership.start();
    this.#fetching = this.#fetchLoop();
  }

  /** Up to maxPollRecords records, waiting up to `timeoutMs` for the first. */
  async poll(options: { timeoutMs?: number; maxRecords?: number; signal?: AbortSignal } = {}): Promise<ShareRecord[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    const max = options.maxRecords ?? this.#options.maxPollRecords;
    for (;;) {
      this.#handout.throwPending();
      const records: ShareRecord[] = [];
      for (let record = this.#takeOne(); record !== undefined; record = records.length < max ? this.#takeOne() : undefined) records.push(record);
      if (records.length > 0 || this.#closed || Date.now() >= deadline || options.signal?.aborted) return records;
      await this.#handout.wait(deadline, options.signal);
    }
  }

  /** Yields records one at a time until the consumer is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ShareRecord> {
    while (!this.#closed) {
      this.#handout.throwPending();
      const record = this.#takeOne();
      if (record !== undefined) yield record;
      else await this.#handout.wait(Date.now() + 1000);
    }
  }

  /** Sends every acknowledgement made so far and resolves once the coordinator answered them all. */
  async flush(): Promise<void> {
    while (this.#pending.length > 0 || this.#sending.size > 0) {
      this.#sendAcks();
      await Promise.allSettled([...this.#sending]);
    }
  }

  /** Sends what was acknowledged, stops fetching and leaves the group (which releases every record still held); once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#stopSignal.abort();
    this.#handout.wake();
    // A fetch carrying acknowledgements is waited for (their outcome is in its answer); one
    // that only asks for records is cut short, since leaving releases whatever it acquires.
    if (!this.#fetchCarriesAcks) this.#fetchAbort.abort();
    this.#wakeFetcher?.();
    await this.#fetching?.catch(() => {});
    await this.flush();
    this.#left = true;
    await this.#membership?.leave();
    this.#forgetHeld();
  }

  // --- acknowledgements ----------------------------------------------------------------------

  /** What the records this consumer hands out call back. */
  readonly #owner: RecordOwner = (() => {
    const consumer = this;
    return {
      acknowledge(record: ShareRecord, membership: number, type: ShareAckTypeValue, delayMs: number, reason: string): Promise<void> {
        if (type !== ShareAckType.RENEW) consumer.#held.delete(record);
        return consumer.#queue(record, membership, type, delayMs, reason);
      },
      /** The lock a renew gives: lockMs, or what the coordinator granted last. */
      get lockDurationMs(): number {
        return consumer.#lockDurationMs;
      },
    };
  })();

  #queue(record: { topic: string; partition: number; offset: number }, membership: number, type: ShareAckTypeValue, delayMs: number, reason: string): Promise<void> {
    const { topic, partition, offset } = record;
    let promise: Promise<void>;
    if (this.#left) {
      promise = Promise.reject(notHeld(`${topic}/${partition} offset ${offset}: the consumer is closed and left its group, which released the record`));
    } else if (membership !== this.#membership?.generation) {
      promise = Promise.reject(notHeld(`${topic}/${partition} offset ${offset} was acquired by an earlier membership of this consumer; the coordinator released it`));
    } else {
      promise = new Promise<void>((resolve, reject) => {
        this.#pending.push({ topic, partition, offset, type, delayMs, reason, membership, resolve, reject });
      });
      this.#lingerTimer ??= setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#sendAcks();
      }, this.#options.ackLingerMs);
      this.#scheduleFetch();
    }
    // An application that does not await an outcome must not crash on a refusal.
    promise.catch((error: unknown) => this.#logger.debug({ err: error, topic, partition, offset }, 'share acknowledgement refused'));
    return promise;
  }

  /** Takes the acknowledgements waiting, refusing those of an earlier membership at once. */
  #drainAcks(): AckBatch {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const generation = this.#membership?.generation;
    const current: PendingAck[] = [];
    for (const ack of this.#pending) {
      if (ack.membership === generation) current.push(ack);
      else ack.reject(notHeld(`${ack.topic}/${ack.partition} offset ${ack.offset} was acquired by an earlier membership of this consumer; the coordinator released it`));
    }
    this.#pending = [];
    return toRanges(current);
  }

  /** Sends the waiting acknowledgements alone (ShareAcknowledge). */
  #sendAcks(): void {
    const batch = this.#drainAcks();
    if (batch.ranges.length === 0) return;
    this.#track(this.#acknowledgeAlone(batch, this.#membership?.generation ?? 0));
  }

  #track(sending: Promise<void>): void {
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
  }

  async #acknowledgeAlone(batch: AckBatch, generation: number): Promise<void> {
    const { groupId } = this.#options;
    const memberId = this.#membership?.memberId ?? '';
    try {
      const answer = await this.#coordinator.call(async (connection, request) => {
        const response = await connection.request<'shareAcknowledge'>(Api.SHARE_ACKNOWLEDGE, { groupId, memberId, acks: batch.ranges }, request);
        if (response.errorCode) throw errorFromWire(response.errorCode, response.errorMessage);
        return response;
      });
      const again = settle(batch, answer.results);
      if (again.length > 0) await this.#acknowledgeAlone(oneByOne(again), generation);
    } catch (error) {
      this.#acksFailed(batch, error, generation);
    }
  }

  /** A request carrying acknowledgements failed as a whole. */
  #acksFailed(batch: AckBatch, error: unknown, generation: number): void {
    if (SluiceError.is(error) && error.code === 'SLUICE_ERR_UNKNOWN_MEMBER_ID') {
      failBatch(batch, notHeld('the coordinator no longer knows this member (its session expired): it released the member\'s records', error));
      this.#membership?.lost(generation);
    } else {
      failBatch(batch, error);
    }
  }

  // --- fetching ------------------------------------------------------------------------------

  /** Room for more records: maxInFlight less what is held (a lock that ran out holds nothing). */
  #room(): number {
    const now = Date.now();
    for (const record of this.#held) if (record.lockExpiresAt <= now) this.#held.delete(record);
    return this.#options.maxInFlight - this.#held.size;
  }

  async #fetchLoop(): Promise<void> {
    let backoffMs = 100;
    const membership = this.#membership!;
    while (!this.#closed && !this.#handout.failed) {
      await membership.joined(this.#stopSignal.signal);
      const memberId = membership.memberId;
      const room = this.#room();
      if (this.#closed || memberId === '' || this.#next < this.#buffer.length || room <= 0) {
        if (!this.#closed) await this.#fetcherIdle();
        continue;
      }
      const generation = membership.generation;
      const batch = this.#drainAcks();
      this.#fetchCarriesAcks = batch.ranges.length > 0;
      let settled: () => void = () => {};
      if (this.#fetchCarriesAcks) this.#track(new Promise<void>((resolve) => { settled = resolve; }));
      const sentAt = Date.now();
      try {
        const response = await this.#shareFetch(memberId, room, batch);
        const again = settle(batch, response.ackResults);
        if (again.length > 0) this.#track(this.#acknowledgeAlone(oneByOne(again), generation));
        this.#take(response, sentAt, generation);
        backoffMs = 100;
      } catch (error) {
        this.#acksFailed(batch, error, generation);
        if (this.#closed) break;
        if (SluiceError.is(error) && error.code === 'SLUICE_ERR_UNKNOWN_MEMBER_ID') continue;
        if (!SluiceError.is(error) || !(error.retriable || error.code === 'SLUICE_ERR_TIMEOUT')) {
          this.#handout.fail(error);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 2000);
      } finally {
        this.#fetchCarriesAcks = false;
        settled();
      }
    }
    this.#fetching = undefined;
  }

  #shareFetch(memberId: string, room: number, batch: AckBatch): Promise<ShareFetchResponse> {
    const { groupId, maxWaitMs, maxBytes, lockMs } = this.#options;
    return this.#coordinator.call(async (connection, request) => {
      const response = await connection.request<'shareFetch'>(Api.SHARE_FETCH, {
        // Acks ride only on a fetch that answers at once: their answer must not wait out a long poll.
        groupId, memberId, maxWaitMs: batch.ranges.length > 0 ? 0 : maxWaitMs, maxRecords: room, maxBytes, lockMs, acks: batch.ranges,
      }, { ...request, timeoutMs: connection.options.requestTimeoutMs + maxWaitMs, ...(batch.ranges.length > 0 ? {} : { signal: this.#fetchAbort.signal }) });
      if (response.errorCode) throw errorFromWire(response.errorCode, response.errorMessage);
      return response;
    }, batch.ranges.length > 0 ? undefined : this.#fetchAbort.signal);
  }

  /** Buffers what a fetch acquired. */
  #take(response: ShareFetchResponse, sentAt: number, generation: number): void {
    if (generation !== this.#membership?.generation) return;
    let added = 0;
    for (const topic of response.topics) {
      for (const result of topic.partitions) {
        if (result.errorCode) {
          this.#logger.warn({ topic: topic.name, partition: result.partition, error: errorFromWire(result.errorCode, result.errorMessage).message }, 'share fetch: a partition could not be read');
          continue;
        }
        if (result.acquired.length === 0) continue;
        // The lock is counted from when the fetch was sent, so this member never believes it holds a record longer than the coordinator does.
        if (this.#options.lockMs <= 0 && result.lockExpiresAtMs > sentAt) this.#lockDurationMs = result.lockExpiresAtMs - sentAt;
        const lockExpiresAt = sentAt + this.#lockDurationMs;
        const { records, missing } = acquiredRecords(topic.name, result.partition, result.acquired, result.records);
        for (const { record, deliveryCount } of records) {
          const shared = new ShareRecord(record, deliveryCount, lockExpiresAt, generation, this.#owner);
          this.#buffer.push(shared);
          this.#held.add(shared);
          added += 1;
        }
        if (missing.length > 0) {
          // Offsets no longer in the log (compaction) have nothing to hand out: finish them rather than let them time out again and again.
          this.#logger.warn({ topic: topic.name, partition: result.partition, offsets: missing.length }, 'share fetch acquired offsets the log no longer holds; acknowledging them');
          for (const offset of missing) void this.#queue({ topic: topic.name, partition: result.partition, offset }, generation, ShareAckType.ACCEPT, 0, '');
        }
      }
    }
    if (added > 0) this.#handout.wake();
  }

  /** The next buffered record whose lock still holds. */
  #takeOne(): ShareRecord | undefined {
    const now = Date.now();
    while (this.#next < this.#buffer.length) {
      const record = this.#buffer[this.#next]!;
      this.#next += 1;
      if (this.#next === this.#buffer.length) {
        this.#buffer = [];
        this.#next = 0;
        this.#scheduleFetch();
      }
      if (record.lockExpiresAt > now && this.#held.has(record)) return record;
      this.#held.delete(record);
    }
    return undefined;
  }

  /** Wakes the fetcher after the current turn, so acknowledgements made in it ride along. */
  #scheduleFetch(): void {
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      this.#wakeFetcher?.();
    });
  }

  /** Waits until the fetcher may have something to do: records handed out, room freed, a lock ran out. */
  #fetcherIdle(): Promise<void> {
    let nextExpiry = Infinity;
    for (const record of this.#held) nextExpiry = Math.min(nextExpiry, record.lockExpiresAt);
    const waitMs = Math.max(1, Math.min(1000, nextExpiry - Date.now()));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.#wakeFetcher = done;
    });
  }

  /** Forgets what an earlier membership held: the coordinator released it. */
  #forgetHeld(): void {
    this.#held.clear();
    this.#buffer = [];
    this.#next = 0;
  }
}
