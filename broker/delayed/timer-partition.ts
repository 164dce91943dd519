/**
 * One partition of the timer log, fired by this broker while it leads it.
 *
 * Memory holds only records due before the horizon in a TimerIndex; later ones are counted and
 * left on disk. Time is cut into buckets of half the window (30 min by default): a produced
 * batch's held records are written as one timer-log batch per bucket, sorted by due time, so a
 * batch's base timestamp is its earliest due time, its max timestamp its latest, and both lie
 * in one bucket. The horizon is a bucket boundary at most one window ahead; every
 * `refillEveryMs` it moves on by whole buckets, and the timer log is scanned batch header by
 * batch header (yielding between chunks): only the batches of the buckets coming into memory
 * are decoded, each once.
 *
 * Firing, in rounds one after another: pop what is due (due ≤ the broker's clock), append it to
 * the target partitions with `x-delayed-from` and the append time as timestamp, then append a
 * fired marker to the timer log listing the fired offsets and each target's new log end.
 * Recovery replays the timer log from its start: held records minus marked ones; for those
 * already due, the crash may have come between their target append and the marker, so each
 * target is read from the last marked log end (or the earliest log end any of them saw at
 * produce time) for their `x-delayed-from` ids, and those found are not fired again.
 * The fired checkpoint: the timer log's start moves to the lowest offset still pending.
 *
 * In a cluster the timer log is a replicated internal topic and a timer partition runs on its
 * leader only (started when leadership is gained, closed when it is lost): its appends wait
 * for the in-sync replicas, targets led elsewhere are written and read through their leaders
 * (TimerIo), and a new leader recovers once its high watermark covers its log end. Records held
 * before recovery has scanned the log are appended only: the scan finds them.
 */
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import {
  ATTRIBUTE_CONTROL_MASK, ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_TIMESTAMP_OFFSET, LAST_OFFSET_DELTA_OFFSET, RECORDS_COUNT_OFFSET,
} from '../../proto/record-batch/layout.js';
import {
  batchMaxTimestamp, buildRecordBatch, type DecodedRecord, decodeRecords, type RecordInput, readBatchHeader, readInt64,
} from '../../proto/record-batch/record-batch.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { batchSizeAt, eachBatch } from '../../proto/record-batch/batch-iterator.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import type { DelayedStats } from './delayed-stats.js';
import { delayedFrom, delayedFromHeader, delayedTopic } from './delayed-topic.js';
import type { SplitBatch } from './split-batch.js';
import { decodeTarget, encodeFired, type FiredMarker, type FiredTargetEnd, firedHeader, targetHeader } from './timer-codec.js';
import { TimerIndex } from './timer-index.js';
import type { TimerIo } from './timer-io.js';
import { TimerScan, targetKey } from './timer-scan.js';
import type { TimerSettings } from './timer-settings.js';


/** A round stops after this many records or bytes of values, so one round never makes a huge batch. */
const roundRecordsMax = 5000;
const roundBytesMax = 4 * 1024 * 1024;
/** Bytes a scan reads between yields. */
const scanChunkBytes = 4 * 1024 * 1024;
/**
 * How long a round's fence vouches for its target appends: well under the cluster's session
 * timeout, the least time in which another broker can be elected leader after it.
 */
const fenceValidMs = 500;
/** After a failed round (a target refused the append), wait this long before the next. */
const retryMs = 1000;

interface Group {
  topic: string;
  partition: number;
  records: RecordInput[];
  offsets: number[];
  dues: number[];
  /** Where its records can be in the target at the earliest: the last log end an append there returned, else the earliest log end they saw when produced. */
  from: number;
}

export class TimerPartition {
  readonly index: number;
  readonly #entries = new TimerIndex();
  readonly #topics: TopicManager;
  readonly #settings: TimerSettings;
  readonly #stats: DelayedStats;
  readonly #logger: Logger;
  readonly #io: TimerIo;
  /** Recovery has scanned the log: held records are indexed from here on. */
  #scanned = false;
  /** Recovery is over: firing may begin. */
  #recovered = false;
  #horizon = -Infinity;
  #onDisk = 0;
  #minDiskOffset = Infinity;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #refillTimer: NodeJS.Timeout | undefined;
  /** The horizon a refill in progress is moving to. */
  #refilling: number | undefined;
  /** The lowest offset held on disk since the refill in progress began (its scan ends before it). */
  #minDiskHeldWhileRefilling = Infinity;
  #firing = false;
  /** Each target's log end after this partition's last append there. */
  readonly #targetEnds = new Map<string, number>();
  /**
   * Groups whose append failed: it may have landed all the same (the answer was lost, the
   * target's leader died after replicating it). Before they fire again the target is read for them.
   */
  #uncertain: Group[] = [];
  /** The lowest offset the round in progress took out of the index (Infinity between rounds): the checkpoint stays below it. */
  #firingFrom = Infinity;
  #pausedUntil = 0;
  #closed = false;

  constructor(index: number, topics: TopicManager, io: TimerIo, settings: TimerSettings, stats: DelayedStats, logger: Logger) {
    this.index = index;
    this.#io = io;
    this.#topics = topics;
    this.#settings = settings;
    this.#stats = stats;
    this.#logger = logger;
  }

  get inMemory(): number {
    return this.#entries.size;
  }

  get onDisk(): number {
    return this.#onDisk;
  }

  get indexBytes(): number {
    return this.#entries.bytes;
  }

  #replica(): Partition | undefined {
    return this.#topics.find(delayedTopic)?.partitionAt(this.index);
  }

  /**
   * Recovers the pending records and starts firing. The log is scanned a chunk at a time
   * (records held meanwhile are appended only, and found by the scan); the overdue check of the
   * targets may wait on other brokers, and firing begins after it.
   */
  async start(now = Date.now()): Promise<void> {
    const replica = this.#replica();
    if (replica !== undefined) await this.#io.caughtUp(replica, () => this.#closed);
    if (this.#closed) return;
    const hi = this.#horizonFor(now);
    const scan = new TimerScan(-Infinity, hi, now);
    if (replica !== undefined) {
      // Yielding between chunks, so the broker serves while it recovers: records held meanwhile
      // are appended only, and this loop, which runs to the log end as it is at its last check, finds them.
      for (let offset = replica.log.logStartOffset; offset < replica.log.logEndOffset && !this.#closed;) {
        offset = this.#scanChunk(replica, offset, scan);
        if (offset < replica.log.logEndOffset) await yieldToEventLoop();
      }
    }
    if (this.#closed) return;
    this.#horizon = hi;
    this.#scanned = true;
    this.#onDisk += scan.onDisk;
    this.#minDiskOffset = Math.min(this.#minDiskOffset, scan.minDiskOffset);
    this.#refillTimer = setInterval(() => void this.#refill(), this.#settings.refillEveryMs);
    const found = replica === undefined ? 0 : await this.#markFiredInTargets(replica, scan);
    if (this.#closed) return;
    scan.eachPending((due, offset) => this.#entries.push(due, offset));
    this.#recovered = true;
    if (replica !== undefined) {
      this.#logger.info({ timerPartition: this.index, inMemory: this.#entries.size, onDisk: this.#onDisk, firedButUnmarked: found, recoverMs: Date.now() - now }, 'delayed records recovered');
    }
    this.#schedule();
  }

  /**
   * Overdue records not marked fired may have reached their target before a crash (between a
   * round's append and its marker): each target is read from the last marked log end (or the
   * earliest log end its due records saw when produced) for their ids. Those found are marked
   * now, or a later recovery, reading targets only past newer markers, would miss them.
   */
  async #markFiredInTargets(replica: Partition, scan: TimerScan): Promise<number> {
    const found: number[] = [];
    const ends: FiredTargetEnd[] = [];
    const marked = scan.firedLookup();
    for (const [name, { topic, partition, from }] of scan.overdue) {
      const inTarget = await this.#readTargetUntilDone(topic, partition, Math.max(from, scan.markedEnds.get(name) ?? 0));
      if (inTarget === undefined) return 0;
      if (inTarget.offsets.length === 0) continue;
      for (const offset of inTarget.offsets) if (!marked(offset)) found.push(offset);
      ends.push({ topic, partition, end: inTarget.end });
    }
    if (found.length > 0) {
      scan.addFired(found);
      await this.#mark(replica, { offsets: found, targets: ends });
    }
    return found.length;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#refillTimer);
  }

  /** The furthest bucket boundary within one window of `now`. */
  #horizonFor(now: number): number {
    const bucket = this.#bucketMs;
    return Math.floor((now + this.#settings.windowMs) / bucket) * bucket;
  }

  get #bucketMs(): number {
    return bucketMs(this.#settings);
  }

  /**
   * Appends held records to this timer partition (created by the caller), one batch per due
   * bucket, and indexes those due before the horizon (or before the one a refill is moving to:
   * its scan stops where the log ended when it began). Resolves once the append is durable as
   * an acks=all produce on one broker is (synced when the timer topic syncs on its own).
   */
  hold(replica: Partition, split: SplitBatch): Promise<void> {
    const held = split.held;
    return this.holdBatches(replica, timerBatches(held, this.#settings), held.map((record) => record.timestamp));
  }

  /**
   * Appends timer batches (made by timerBatches(), here or by the broker that took the produce)
   * whose records are due at `dues`, in order, and indexes them as hold() says.
   */
  holdBatches(replica: Partition, bytes: Buffer, dues: readonly number[]): Promise<void> {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `${delayedTopic}-${this.index} is not led by this broker any more; refresh metadata and retry`);
    replica.checkLeader();
    replica.checkEnoughReplicas();
    const appended = replica.log.append(bytes, { verified: true, leaderEpoch: replica.leaderEpoch });
    replica.notifyAppend(bytes.length);
    const inMemoryBefore = this.#refilling ?? this.#horizon;
    if (this.#scanned) this.#index(appended.baseOffset, dues, inMemoryBefore);
    return this.#io.committed(replica, appended.lastOffset);
  }

  #index(baseOffset: number, dues: readonly number[], inMemoryBefore: number): void {
    dues.forEach((due, position) => {
      const offset = baseOffset + position;
      if (due < inMemoryBefore) {
        this.#entries.push(due, offset);
      } else {
        this.#onDisk += 1;
        this.#minDiskOffset = Math.min(this.#minDiskOffset, offset);
        this.#minDiskHeldWhileRefilling = Math.min(this.#minDiskHeldWhileRefilling, offset);
      }
    });
    this.#schedule();
  }

  /**
   * Hands about one chunk of batches from `offset` to the scan, decoding only those that reach
   * into [lo, hi). Returns the next offset. Headers are read in place with no object or view per
   * batch: a recovery walks millions of them.
   */
  #scanChunk(replica: Partition, offset: number, scan: TimerScan): number {
    const log = replica.log;
    const { slices } = log.read(offset, scanChunkBytes);
    if (slices.length === 0) return log.logEndOffset;
    let next = offset;
    for (const slice of slices) {
      for (let position = 0; position < slice.length;) {
        const size = batchSizeAt(slice, position, slice.length);
        const baseOffset = readInt64(slice, position + BASE_OFFSET_OFFSET);
        next = baseOffset + slice.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) + 1;
        const scanned = (slice.readInt16BE(position + ATTRIBUTES_OFFSET) & ATTRIBUTE_CONTROL_MASK) === 0
          && batchMaxTimestamp(slice, position) >= scan.lo && baseOffset < scan.until;
        if (scanned && readInt64(slice, position + BASE_TIMESTAMP_OFFSET) >= scan.hi) {
          scan.addLater(baseOffset, slice.readInt32BE(position + RECORDS_COUNT_OFFSET));
        } else if (scanned) {
          for (const record of decodeRecords(slice.subarray(position, position + size))) scan.add(record);
        }
        position += size;
      }
    }
    return next;
  }

  /**
   * #firedInTarget, tried again every second while the target cannot be read (its leader died
   * with this one and no other is elected yet); undefined once this partition is closed.
   */
  async #readTargetUntilDone(topic: string, partition: number, from: number): Promise<{ offsets: number[]; end: number } | undefined> {
    while (!this.#closed) {
      try {
        return await this.#firedInTarget(topic, partition, from);
      } catch (error) {
        this.#logger.warn({ err: error, timerPartition: this.index, topic, partition }, 'cannot read a partition for delayed records fired before a crash; trying again in a second');
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
    return undefined;
  }

  /** The timer offsets whose firing is in the target partition from `from` on, and the target's log end read up to. */
  async #firedInTarget(topic: string, partition: number, from: number): Promise<{ offsets: number[]; end: number }> {
    const prefix = `${this.index}:`;
    const offsets: number[] = [];
    const end = await this.#io.readTarget(topic, partition, from, (batch) => {
      for (const record of decodeRecords(batch)) {
        for (const header of record.headers) {
          if (header.key !== delayedFromHeader) continue;
          const value = header.value?.toString('utf8') ?? '';
          if (value.startsWith(prefix)) offsets.push(Number(value.slice(prefix.length)));
        }
      }
    });
    return { offsets, end: end ?? 0 };
  }

  /**
   * Moves the window on by whole buckets: indexes the records that came within it (reading the
   * log up to where it ended when the refill began, a chunk at a time), then moves the fired
   * checkpoint (the log start) to the lowest offset still pending.
   */
  async #refill(now = Date.now()): Promise<void> {
    const hi = this.#horizonFor(now);
    // Before recovery is over the index lacks the recovered records: the checkpoint would pass them.
    if (this.#closed || !this.#recovered || this.#refilling !== undefined || hi <= this.#horizon) return;
    const replica = this.#replica();
    if (replica === undefined) {
      this.#horizon = hi;
      return;
    }
    this.#refilling = hi;
    this.#minDiskHeldWhileRefilling = Infinity;
    try {
      // Records held from here on are indexed by hold() against the new horizon: the scan stops before them.
      const end = replica.log.logEndOffset;
      const scan = new TimerScan(this.#horizon, hi, -Infinity, end);
      for (let offset = replica.log.logStartOffset; offset < end && !this.#closed;) {
        offset = this.#scanChunk(replica, offset, scan);
        await yieldToEventLoop();
      }
      // Markers come only from fired records, all due before the old horizon: none lists these.
      scan.eachPending((due, offset) => this.#entries.push(due, offset));
      this.#onDisk -= scan.candidates;
      this.#minDiskOffset = Math.min(scan.minDiskOffset, this.#minDiskHeldWhileRefilling);
      this.#horizon = hi;
      this.#schedule();
      const pending = Math.min(this.#entries.minOffset(), this.#minDiskOffset, this.#firingFrom, this.#uncertainFrom(), replica.log.logEndOffset);
      if (pending > replica.log.logStartOffset) replica.log.deleteRecordsBefore(pending);
    } catch (error) {
      this.#logger.error({ err: error, timerPartition: this.index }, 'moving the delayed-delivery window failed; trying again at the next refill');
    } finally {
      this.#refilling = undefined;
    }
  }

  #schedule(): void {
    if (this.#closed || this.#firing || !this.#recovered) return;
    const due = Math.max(this.#uncertain.length > 0 ? 0 : this.#entries.peekDue(), this.#pausedUntil);
    if (due === Infinity || (this.#timer !== undefined && this.#timerAt <= due)) return;
    clearTimeout(this.#timer);
    this.#timerAt = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      void this.#run();
    }, Math.max(0, due - Date.now()));
  }

  async #run(): Promise<void> {
    if (this.#firing || this.#closed) return;
    this.#firing = true;
    try {
      if (!(await this.#fire())) this.#pausedUntil = Date.now() + retryMs;
      this.#firingFrom = Infinity;
    } catch (error) {
      this.#logger.error({ err: error, timerPartition: this.index }, 'a delayed-delivery round failed; trying again in a second');
      this.#pausedUntil = Date.now() + retryMs;
    } finally {
      this.#firing = false;
    }
    this.#schedule();
  }

  /** One round; false when some target refused its records or could not be read (they are due again after a pause). */
  async #fire(): Promise<boolean> {
    const replica = this.#replica();
    if (replica === undefined) return true;
    const settled = this.#uncertain.length === 0 || await this.#settleUncertain(replica);
    const now = Date.now();
    const groups = new Map<string, Group>();
    const batches = new Map<number, DecodedRecord[]>();
    let count = 0;
    let bytes = 0;
    while (this.#entries.peekDue() <= now && count < roundRecordsMax && bytes < roundBytesMax) {
      const due = this.#entries.peekDue();
      const offset = this.#entries.pop();
      this.#firingFrom = Math.min(this.#firingFrom, offset);
      const record = this.#recordAt(replica, offset, batches);
      const target = decodeTarget(record.headers[0]?.key === targetHeader ? record.headers[0].value : null);
      const name = targetKey(target.topic, target.partition);
      let group = groups.get(name);
      if (group === undefined) {
        group = { topic: target.topic, partition: target.partition, records: [], offsets: [], dues: [], from: this.#targetEnds.get(name) ?? target.endAtProduce };
        groups.set(name, group);
      }
      if (!this.#targetEnds.has(name)) group.from = Math.min(group.from, target.endAtProduce);
      const headers = record.headers.slice(1);
      headers.push({ key: delayedFromHeader, value: Buffer.from(delayedFrom(this.index, offset)) });
      // No timestamp: the batch's base timestamp, the append time, stands for it.
      group.records.push({ key: record.key, value: record.value, headers });
      group.offsets.push(offset);
      group.dues.push(due);
      count += 1;
      bytes += (record.value?.length ?? 0) + (record.key?.length ?? 0);
    }
    if (count === 0) return settled;
    const fencedFrom = Date.now();
    if (this.#io.fencesEachRound && !(await this.#fence(replica, groups))) return false;
    const fired: number[] = [];
    const ends: FiredTargetEnd[] = [];
    let complete = true;
    const outcomes = await Promise.allSettled([...groups.values()].map((group) => this.#appendToTarget(group, fencedFrom)));
    [...groups.values()].forEach((group, position) => {
      const outcome = outcomes[position]!;
      if (outcome.status === 'fulfilled') {
        if (outcome.value !== undefined) {
          ends.push({ topic: group.topic, partition: group.partition, end: outcome.value });
          this.#targetEnds.set(targetKey(group.topic, group.partition), outcome.value);
        }
        fired.push(...group.offsets);
        return;
      }
      complete = false;
      this.#logger.warn({ err: outcome.reason, topic: group.topic, partition: group.partition, records: group.offsets.length }, 'cannot append delayed records to their partition; retrying in a second');
      this.#uncertain.push(group);
    });
    if (fired.length > 0) await this.#mark(replica, { offsets: fired, targets: ends });
    return complete && settled;
  }

  /** Commits an empty marker (see TimerIo); when that fails, the round's records go back into the index. */
  async #fence(replica: Partition, groups: Map<string, Group>): Promise<boolean> {
    try {
      await this.#mark(replica, { offsets: [], targets: [] });
      return true;
    } catch (error) {
      this.#logger.warn({ err: error, timerPartition: this.index }, 'cannot commit to the timer log (leadership lost, or its replicas lag): firing nothing; trying again in a second');
      for (const group of groups.values()) {
        group.offsets.forEach((offset, index) => {
          this.#entries.push(group.dues[index]!, offset);
        });
      }
      return false;
    }
  }

  #uncertainFrom(): number {
    let lowest = Infinity;
    for (const group of this.#uncertain) for (const offset of group.offsets) lowest = Math.min(lowest, offset);
    return lowest;
  }

  /**
   * Reads each uncertain group's target from where its records could be: those found are
   * marked fired, the rest go back into the index. A group whose target cannot be read stays
   * uncertain (the round fires nothing for it until it can); false then.
   */
  async #settleUncertain(replica: Partition): Promise<boolean> {
    // Out of both lists while the targets are read: the checkpoint stays below them meanwhile.
    this.#firingFrom = Math.min(this.#firingFrom, this.#uncertainFrom());
    const groups = this.#uncertain;
    this.#uncertain = [];
    const found: number[] = [];
    const ends: FiredTargetEnd[] = [];
    for (const group of groups) {
      let inTarget: { offsets: number[]; end: number };
      try {
        inTarget = await this.#firedInTarget(group.topic, group.partition, group.from);
      } catch (error) {
        this.#logger.warn({ err: error, topic: group.topic, partition: group.partition }, 'cannot read a partition for delayed records whose append failed; trying again in a second');
        this.#uncertain.push(group);
        continue;
      }
      const landed = new Set(inTarget.offsets);
      group.offsets.forEach((offset, index) => {
        if (landed.has(offset)) found.push(offset);
        else this.#entries.push(group.dues[index]!, offset);
      });
      if (landed.size > 0) ends.push({ topic: group.topic, partition: group.partition, end: inTarget.end });
    }
    if (found.length > 0) await this.#mark(replica, { offsets: found, targets: ends });
    return this.#uncertain.length === 0;
  }

  /** Appends a group to its partition: its log end after, or undefined when the partition is gone (its records are dropped, counted). */
  async #appendToTarget(group: Group, fencedFrom: number): Promise<number | undefined> {
    // Read just before the append: the records' timestamp, and never before their due time.
    const appendTime = Date.now();
    // The fence vouches for this broker's leadership when it was committed: a round that took
    // long since (the process was stopped, or the broker starved) could follow a deposition.
    if (this.#io.fencesEachRound && appendTime - fencedFrom > fenceValidMs) {
      throw new SluiceError('SLUICE_ERR_REQUEST_TIMED_OUT', `${appendTime - fencedFrom} ms passed since this round's fence on ${delayedTopic}-${this.index}; fencing again before appending`);
    }
    const batch = buildRecordBatch(group.records, { baseTimestamp: appendTime });
    const end = await this.#io.appendToTarget(group.topic, group.partition, batch, appendTime);
    if (end === undefined) {
      this.#stats.dropped += group.records.length;
      this.#logger.warn({ topic: group.topic, partition: group.partition, records: group.records.length }, 'delayed records fell due for a partition that no longer exists; dropped');
      return undefined;
    }
    this.#stats.recordFired(group.dues, appendTime);
    return end;
  }

  async #mark(replica: Partition, marker: FiredMarker): Promise<void> {
    replica.checkLeader();
    const batch = buildRecordBatch([{ key: null, value: null, timestamp: Date.now(), headers: [{ key: firedHeader, value: encodeFired(marker) }] }]);
    const appended = replica.log.append(batch, { verified: true, leaderEpoch: replica.leaderEpoch });
    replica.notifyAppend(batch.length);
    await this.#io.committed(replica, appended.lastOffset);
  }

  /** The held record at `offset`, decoding its batch once per round. */
  #recordAt(replica: Partition, offset: number, batches: Map<number, DecodedRecord[]>): DecodedRecord {
    // Timer batches are built here with offset deltas 0..n−1: a record's place is offset − base.
    for (const [base, records] of batches) {
      if (offset >= base && offset < base + records.length) return records[offset - base]!;
    }
    const slice = replica.log.read(offset, 1).slices[0];
    const span = slice === undefined ? undefined : eachBatch(slice).next().value;
    if (slice === undefined || span === undefined) throw new SluiceError('SLUICE_ERR_STORAGE', `held record ${offset} of ${delayedTopic}-${this.index} is not in the log`);
    const batch = slice.subarray(span.position, span.position + span.size);
    const records = decodeRecords(batch);
    const base = readBatchHeader(batch).baseOffset;
    batches.set(base, records);
    const record = records[offset - base];
    if (record?.offset !== offset) throw new SluiceError('SLUICE_ERR_CORRUPT_MESSAGE', `held record ${offset} of ${delayedTopic}-${this.index} is not where its batch says`);
    return record;
  }
}

/**
 * The timer-log batches of held records sorted by due time: one batch per due bucket (half the
 * window), so a batch's base and max timestamps are its earliest and latest due times in one bucket.
 */
export function timerBatches(held: readonly RecordInput[], settings: TimerSettings): Buffer {
  const batches: Buffer[] = [];
  const bucket = bucketMs(settings);
  for (let first = 0; first < held.length;) {
    const id = Math.floor(held[first]!.timestamp! / bucket);
    let end = first + 1;
    while (end < held.length && Math.floor(held[end]!.timestamp! / bucket) === id) end += 1;
    batches.push(buildRecordBatch(held.slice(first, end)));
    first = end;
  }
  return batches.length === 1 ? batches[0]! : Buffer.concat(batches);
}

function bucketMs(settings: TimerSettings): number {
  return Math.max(1, Math.floor(settings.windowMs / 2));
}
