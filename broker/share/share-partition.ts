/**
 * One share-partition (group, topic, partition): the window of offsets [start, end) — start is
 * the SPSO, the first offset not finished; end is SPEO + 1, the next offset the group has not
 * looked at — and per offset its state, delivery count, holder and deadline, in typed arrays
 * (about 20 bytes an offset, the window at most share.partition.max.window long), so a
 * hundred thousand records through a window cost nothing per record.
 *
 * It is pure: no clock, no I/O. The coordinator passes `now`, decides what to read from the
 * log, and persists what `takeUpdate` returns before it answers. Finished states are ACKED,
 * DEAD (dead-lettered, or dropped without a DLQ) and GAP (an offset with no record: compacted
 * away or a control batch); start moves past them.
 */
import {
  type DeadReason, deadReasons, reasonCode, RecordState, type RecordStateValue, type ShareCounters, type ShareStateValue, type StateRun, updateSlots, zeroCounters,
} from './share-records.js';
import { backoffFor, type ShareGroupConfig } from './group-configs.js';

export const noHolder = -1;

/** What a failed attempt or a rejection led to, for metrics and the dead-letter writer. */
export interface Transitions {
  redeliverable: number;
  deadLettering: number;
}

const finished = (state: number) => state === RecordState.acked || state === RecordState.dead || state === RecordState.gap;

export class SharePartition {
  readonly topic: string;
  readonly partition: number;
  start: number;
  end: number;
  readonly counters: ShareCounters = zeroCounters();
  /** Sequence of the last update or snapshot made (or replayed). */
  seq = 0;
  /** Updates since the last snapshot: one is due before updateSlots / 2. */
  #sinceSnapshot = 0;
  #base: number;
  #state: Uint8Array;
  #count: Uint8Array;
  #reason: Uint8Array;
  #holder: Int32Array;
  /** Lock expiry (ACQUIRED) or available-at (DELAYED), epoch ms. */
  #deadline: Float64Array;
  #lockedAt: Float64Array;
  /** The earliest deadline in the window, or later: the sweep looks only when it has passed. */
  nextDeadline = Infinity;
  readonly #held = new Map<number, number>();
  /** Offsets changed since the last takeUpdate, as a range. */
  #dirtyFrom = Infinity;
  #dirtyTo = -1;
  #startMoved = false;

  constructor(topic: string, partition: number, start: number, capacity = 256) {
    this.topic = topic;
    this.partition = partition;
    this.start = start;
    this.end = start;
    this.#base = start;
    this.#state = new Uint8Array(capacity);
    this.#count = new Uint8Array(capacity);
    this.#reason = new Uint8Array(capacity);
    this.#holder = new Int32Array(capacity).fill(noHolder);
    this.#deadline = new Float64Array(capacity);
    this.#lockedAt = new Float64Array(capacity);
  }

  #at(offset: number): number {
    return offset - this.#base;
  }

  /** Makes room for offsets up to `offset`: drops what is below start, grows when that is not enough. */
  #reserve(offset: number): void {
    if (offset - this.#base < this.#state.length) return;
    const shift = this.start - this.#base;
    const needed = offset - this.start + 1;
    const capacity = needed <= this.#state.length && shift > 0 ? this.#state.length : Math.max(needed, this.#state.length * 2);
    const move = <T extends Uint8Array | Int32Array | Float64Array>(array: T, make: (size: number) => T, fill: number): T => {
      const next = make(capacity);
      next.set(array.subarray(shift, this.end - this.#base));
      if (fill !== 0) next.fill(fill, this.end - this.start);
      return next;
    };
    this.#state = move(this.#state, (size) => new Uint8Array(size), 0);
    this.#count = move(this.#count, (size) => new Uint8Array(size), 0);
    this.#reason = move(this.#reason, (size) => new Uint8Array(size), 0);
    this.#holder = move(this.#holder, (size) => new Int32Array(size), noHolder);
    this.#deadline = move(this.#deadline, (size) => new Float64Array(size), 0);
    this.#lockedAt = move(this.#lockedAt, (size) => new Float64Array(size), 0);
    this.#base = this.start;
  }

  #dirty(first: number, last: number): void {
    if (first < this.#dirtyFrom) this.#dirtyFrom = first;
    if (last > this.#dirtyTo) this.#dirtyTo = last;
  }

  state(offset: number): RecordStateValue | undefined {
    if (offset < this.start || offset >= this.end) return undefined;
    return this.#state[this.#at(offset)] as RecordStateValue;
  }

  deliveryCount(offset: number): number {
    return offset < this.start || offset >= this.end ? 0 : this.#count[this.#at(offset)]!;
  }

  holder(offset: number): number {
    return offset < this.start || offset >= this.end ? noHolder : this.#holder[this.#at(offset)]!;
  }

  lockExpiry(offset: number): number {
    return this.#deadline[this.#at(offset)]!;
  }

  reasonOf(offset: number): DeadReason {
    return deadReasons[this.#reason[this.#at(offset)]!] as DeadReason;
  }

  /** Records a member holds here. */
  heldBy(member: number): number {
    return this.#held.get(member) ?? 0;
  }

  /** Whether `offset` may join the window: SPEO − SPSO + 1 ≤ max window. */
  canAdd(offset: number, maxWindow: number): boolean {
    return offset + 1 - this.start <= maxWindow;
  }

  /** Offsets [end, offset) had no record (gaps); `offset` is a record, AVAILABLE, never delivered. */
  addRecord(offset: number): void {
    this.addGapTo(offset);
    this.#reserve(offset);
    const at = this.#at(offset);
    this.#state[at] = RecordState.available;
    this.#count[at] = 0;
    this.#holder[at] = noHolder;
    this.end = offset + 1;
    this.#dirty(offset, offset);
  }

  /** Offsets [end, offset) hold no record: finished as GAP. */
  addGapTo(offset: number): void {
    if (offset <= this.end) return;
    this.#reserve(offset - 1);
    const from = this.end;
    for (let current = from; current < offset; current += 1) {
      const at = this.#at(current);
      this.#state[at] = RecordState.gap;
      this.#count[at] = 0;
      this.#holder[at] = noHolder;
    }
    this.end = offset;
    this.#dirty(from, offset - 1);
    this.#advanceStart();
  }

  /** AVAILABLE offsets in the window, lowest first, at most `limit`. */
  availableOffsets(limit: number): number[] {
    const found: number[] = [];
    for (let offset = this.start; offset < this.end && found.length < limit; offset += 1) {
      if (this.#state[this.#at(offset)] === RecordState.available) found.push(offset);
    }
    return found;
  }

  /** Whether any offset of [first, last] in the window is AVAILABLE. */
  hasAvailable(first: number, last: number): boolean {
    for (let offset = Math.max(first, this.start); offset <= last && offset < this.end; offset += 1) {
      if (this.#state[this.#at(offset)] === RecordState.available) return true;
    }
    return false;
  }

  /** AVAILABLE → ACQUIRED by `member` until `lockExpiry`; the delivery count goes up. */
  acquire(offset: number, member: number, now: number, lockExpiry: number): number {
    const at = this.#at(offset);
    if (this.#state[at] !== RecordState.available) throw new Error(`offset ${offset} is not available`);
    const count = Math.min(this.#count[at]! + 1, 127);
    if (count > 1) this.counters.redelivered += 1;
    this.#state[at] = RecordState.acquired;
    this.#count[at] = count;
    this.#holder[at] = member;
    this.#deadline[at] = lockExpiry;
    this.#lockedAt[at] = now;
    this.#held.set(member, this.heldBy(member) + 1);
    if (lockExpiry < this.nextDeadline) this.nextDeadline = lockExpiry;
    this.#dirty(offset, offset);
    return count;
  }

  /**
   * The offsets of [first, last] in the window that are records (not GAP) and not all ACQUIRED by
   * `member`: undefined when the member holds every one (a range may span gaps).
   */
  notHeld(first: number, last: number, member: number): string | undefined {
    if (first > last) return `the range ${first}-${last} is empty`;
    for (let offset = first; offset <= last; offset += 1) {
      if (offset < this.start || offset >= this.end) return `offset ${offset} is not in flight (window ${this.start}-${this.end - 1})`;
      const at = this.#at(offset);
      const state = this.#state[at]!;
      if (state === RecordState.gap) continue;
      if (state !== RecordState.acquired || this.#holder[at] !== member) return `offset ${offset} is not held by this member (${stateNames[state]})`;
    }
    return undefined;
  }

  #unhold(at: number): void {
    const member = this.#holder[at]!;
    if (member === noHolder) return;
    const held = this.heldBy(member) - 1;
    if (held <= 0) this.#held.delete(member);
    else this.#held.set(member, held);
    this.#holder[at] = noHolder;
  }

  /** ACCEPT: the held records of [first, last] are done. */
  accept(first: number, last: number): number {
    let accepted = 0;
    for (let offset = first; offset <= last; offset += 1) {
      const at = this.#at(offset);
      if (this.#state[at] !== RecordState.acquired) continue;
      this.#unhold(at);
      this.#state[at] = RecordState.acked;
      this.counters.acknowledged += 1;
      accepted += 1;
    }
    this.#dirty(first, last);
    this.#advanceStart();
    return accepted;
  }

  /** RENEW: the held records of [first, last] keep their lock until `lockExpiry`. */
  renew(first: number, last: number, lockExpiry: number): void {
    for (let offset = first; offset <= last; offset += 1) {
      const at = this.#at(offset);
      if (this.#state[at] === RecordState.acquired) this.#deadline[at] = lockExpiry;
    }
  }

  /**
   * A failed attempt (RELEASE, lock expiry, member gone) on each ACQUIRED offset of [first, last]:
   * at the delivery limit it dead-letters as delivery_limit; otherwise AVAILABLE, or DELAYED for
   * `delayMs` (0: the backoff of this attempt).
   */
  fail(first: number, last: number, config: ShareGroupConfig, hasDlq: boolean, now: number, delayMs = 0, only?: (at: number) => boolean): Transitions {
    const outcome: Transitions = { redeliverable: 0, deadLettering: 0 };
    for (let offset = Math.max(first, this.start); offset <= last && offset < this.end; offset += 1) {
      const at = this.#at(offset);
      if (this.#state[at] !== RecordState.acquired || (only !== undefined && !only(at))) continue;
      this.#unhold(at);
      const count = this.#count[at]!;
      this.#dirty(offset, offset);
      if (count >= config.deliveryLimit) {
        this.#deadLetter(at, 'delivery_limit', hasDlq);
        outcome.deadLettering += 1;
        continue;
      }
      const delay = Math.min(delayMs > 0 ? delayMs : backoffFor(config, count), config.maxRetryDelayMs);
      outcome.redeliverable += 1;
      if (delay > 0) {
        this.#state[at] = RecordState.delayed;
        this.#deadline[at] = now + delay;
        if (now + delay < this.nextDeadline) this.nextDeadline = now + delay;
      } else this.#state[at] = RecordState.available;
    }
    this.#advanceStart();
    return outcome;
  }

  /** REJECT: each ACQUIRED offset of [first, last] dead-letters as `rejected`. */
  reject(first: number, last: number, hasDlq: boolean): number {
    let rejected = 0;
    for (let offset = first; offset <= last; offset += 1) {
      const at = this.#at(offset);
      if (this.#state[at] !== RecordState.acquired) continue;
      this.#unhold(at);
      this.#deadLetter(at, 'rejected', hasDlq);
      rejected += 1;
    }
    this.#dirty(first, last);
    this.#advanceStart();
    return rejected;
  }

  /** An AVAILABLE record found expired when about to be acquired. */
  expire(offset: number, hasDlq: boolean): void {
    const at = this.#at(offset);
    this.#deadLetter(at, 'expired', hasDlq);
    this.#dirty(offset, offset);
    this.#advanceStart();
  }

  /** With a DLQ the record waits as DEAD_LETTERING for the writer; without one it is dropped (DEAD) and counted. */
  #deadLetter(at: number, reason: DeadReason, hasDlq: boolean): void {
    this.#reason[at] = reasonCode(reason);
    this.#holder[at] = noHolder;
    if (hasDlq) {
      this.#state[at] = RecordState.deadLettering;
      return;
    }
    this.#state[at] = RecordState.dead;
    this.#countDead(reason);
    this.counters.dropped += 1;
  }

  #countDead(reason: DeadReason): void {
    if (reason === 'rejected') this.counters.rejected += 1;
    else if (reason === 'delivery_limit') this.counters.deliveryLimit += 1;
    else this.counters.expired += 1;
  }

  /** Offsets waiting for the dead-letter writer, lowest first, at most `limit`. */
  deadLettering(limit: number): number[] {
    const found: number[] = [];
    for (let offset = this.start; offset < this.end && found.length < limit; offset += 1) {
      if (this.#state[this.#at(offset)] === RecordState.deadLettering) found.push(offset);
    }
    return found;
  }

  /**
   * The writer appended the record to the DLQ (or found it there): DEAD_LETTERING → DEAD.
   * `dropped`: the group's DLQ topic was unset meanwhile, so it is dropped and counted instead.
   */
  deadLettered(offset: number, dropped = false): void {
    const at = this.#at(offset);
    if (offset < this.start || offset >= this.end || this.#state[at] !== RecordState.deadLettering) return;
    this.#state[at] = RecordState.dead;
    this.#countDead(deadReasons[this.#reason[at]!] as DeadReason);
    if (dropped) this.counters.dropped += 1;
    this.#dirty(offset, offset);
    this.#advanceStart();
  }

  /**
   * Locks past their expiry are failed attempts; DELAYED records whose time came are AVAILABLE.
   * Only scans when the earliest deadline has passed.
   */
  sweep(now: number, config: ShareGroupConfig, hasDlq: boolean): Transitions & { expiredLocks: number; madeAvailable: number } {
    const outcome = { redeliverable: 0, deadLettering: 0, expiredLocks: 0, madeAvailable: 0 };
    if (this.nextDeadline > now) return outcome;
    let next = Infinity;
    for (let offset = this.start; offset < this.end; offset += 1) {
      const at = this.#at(offset);
      const state = this.#state[at];
      if (state !== RecordState.acquired && state !== RecordState.delayed) continue;
      const deadline = this.#deadline[at]!;
      if (deadline > now) {
        if (deadline < next) next = deadline;
        continue;
      }
      if (state === RecordState.delayed) {
        this.#state[at] = RecordState.available;
        this.#dirty(offset, offset);
        outcome.madeAvailable += 1;
        continue;
      }
      outcome.expiredLocks += 1;
      const failed = this.fail(offset, offset, config, hasDlq, now);
      outcome.redeliverable += failed.redeliverable;
      outcome.deadLettering += failed.deadLettering;
      if (this.#state[at] === RecordState.delayed && this.#deadline[at]! < next) next = this.#deadline[at]!;
    }
    this.nextDeadline = next;
    return outcome;
  }

  /** Every record the member holds here: failed attempts (it left or timed out). */
  releaseMember(member: number, config: ShareGroupConfig, hasDlq: boolean, now: number): Transitions {
    if (this.heldBy(member) === 0) return { redeliverable: 0, deadLettering: 0 };
    return this.fail(this.start, this.end - 1, config, hasDlq, now, 0, (at) => this.#holder[at] === member);
  }

  /** Retention removed offsets below `logStart`: start moves there, unfinished offsets count as skipped. */
  skipTo(logStart: number): number {
    if (logStart <= this.start) return 0;
    let skipped = 0;
    for (let offset = this.start; offset < Math.min(logStart, this.end); offset += 1) {
      const at = this.#at(offset);
      if (finished(this.#state[at]!)) continue;
      this.#unhold(at);
      skipped += 1;
    }
    if (logStart > this.end) skipped += logStart - this.end;
    this.counters.skipped += skipped;
    if (logStart > this.end) {
      this.end = logStart;
      this.#base = logStart;
    }
    this.start = logStart;
    this.#startMoved = true;
    this.#advanceStart();
    return skipped;
  }

  #advanceStart(): void {
    const from = this.start;
    while (this.start < this.end && finished(this.#state[this.#at(this.start)]!)) this.start += 1;
    if (this.start !== from) this.#startMoved = true;
  }

  /** Counts of the window by state now, and the age of the oldest lock. */
  describe(now: number): { acquired: number; available: number; delayed: number; deadLettering: number; oldestLockAgeMs: number } {
    const figures = { acquired: 0, available: 0, delayed: 0, deadLettering: 0, oldestLockAgeMs: 0 };
    for (let offset = this.start; offset < this.end; offset += 1) {
      const at = this.#at(offset);
      const state = this.#state[at];
      if (state === RecordState.acquired) {
        figures.acquired += 1;
        figures.oldestLockAgeMs = Math.max(figures.oldestLockAgeMs, now - this.#lockedAt[at]!);
      } else if (state === RecordState.available) figures.available += 1;
      else if (state === RecordState.delayed) figures.delayed += 1;
      else if (state === RecordState.deadLettering) figures.deadLettering += 1;
    }
    return figures;
  }

  #runs(first: number, last: number): StateRun[] {
    const runs: StateRun[] = [];
    let current: StateRun | undefined;
    for (let offset = Math.max(first, this.start); offset <= last && offset < this.end; offset += 1) {
      const at = this.#at(offset);
      const state = this.#state[at] as RecordStateValue;
      const deliveryCount = this.#count[at]!;
      const reason = state === RecordState.deadLettering || state === RecordState.dead ? this.#reason[at]! : 0;
      const until = state === RecordState.delayed ? this.#deadline[at]! : 0;
      if (current !== undefined && current.last === offset - 1 && current.state === state && current.deliveryCount === deliveryCount && current.reason === reason && current.until === until) {
        current.last = offset;
        continue;
      }
      current = { first: offset, last: offset, state, deliveryCount, reason, until };
      runs.push(current);
    }
    return runs;
  }

  /**
   * What changed since the last call, to append before the change is answered: an update of the
   * changed range, or a snapshot when one is due; undefined when nothing changed.
   */
  takeUpdate(): { snapshot: boolean; value: ShareStateValue; slot: number } | undefined {
    if (this.#dirtyTo < 0 && !this.#startMoved) return undefined;
    const from = this.#dirtyFrom;
    const to = this.#dirtyTo;
    this.#dirtyFrom = Infinity;
    this.#dirtyTo = -1;
    this.#startMoved = false;
    this.seq += 1;
    this.#sinceSnapshot += 1;
    if (this.#sinceSnapshot >= updateSlots / 2 - 1) return { snapshot: true, value: this.snapshot(), slot: 0 };
    return { snapshot: false, value: { seq: this.seq, start: this.start, end: this.end, runs: to < 0 ? [] : this.#runs(from, to), counters: { ...this.counters } }, slot: this.seq % updateSlots };
  }

  /** The whole state (resets the snapshot cadence). */
  snapshot(): ShareStateValue {
    this.#sinceSnapshot = 0;
    return { seq: this.seq, start: this.start, end: this.end, runs: this.#runs(this.start, this.end - 1), counters: { ...this.counters } };
  }

  /**
   * Replay: a snapshot replaces the state; an update newer than what was applied sets the states
   * of its runs (absolute, so a lost update costs only its own transitions), the counters, and
   * moves start/end. Runs cover only offsets at or above the start of their moment.
   */
  applyPersisted(value: ShareStateValue, snapshot: boolean): void {
    if (snapshot) {
      this.#held.clear();
      this.start = value.start;
      this.end = value.start;
      this.#base = value.start;
    } else if (value.seq <= this.seq) return;
    this.seq = value.seq;
    // How many updates followed the last snapshot in the log is unknown here: the next write is a snapshot.
    this.#sinceSnapshot = updateSlots;
    Object.assign(this.counters, value.counters);
    for (const run of value.runs) {
      if (run.last < this.start) continue;
      if (run.first > this.end) this.addGapTo(run.first);
      this.#reserve(run.last);
      for (let offset = Math.max(run.first, this.start); offset <= run.last; offset += 1) {
        const at = this.#at(offset);
        this.#state[at] = run.state;
        this.#count[at] = run.deliveryCount;
        this.#reason[at] = run.reason;
        this.#holder[at] = noHolder;
        this.#deadline[at] = run.until;
      }
      if (run.last + 1 > this.end) this.end = run.last + 1;
    }
    if (value.end > this.end) this.addGapTo(value.end);
    this.#advanceStart();
    // Offsets finished below start need no run: start alone says they are done.
    if (value.start > this.start) this.#moveStartForReplay(value.start);
    this.#dirtyFrom = Infinity;
    this.#dirtyTo = -1;
    this.#startMoved = false;
  }

  #moveStartForReplay(start: number): void {
    if (start > this.end) {
      this.end = start;
      this.#base = start;
    }
    this.start = start;
  }

  /**
   * After a replay (the coordinator restarted or moved): records ACQUIRED before were handed out
   * with their count already persisted; that attempt is counted as failed — AVAILABLE again at
   * once, or dead-lettered as delivery_limit when it was the last one allowed.
   */
  recover(config: ShareGroupConfig, hasDlq: boolean): Transitions {
    const outcome: Transitions = { redeliverable: 0, deadLettering: 0 };
    let next = Infinity;
    for (let offset = this.start; offset < this.end; offset += 1) {
      const at = this.#at(offset);
      const state = this.#state[at];
      if (state === RecordState.delayed) next = Math.min(next, this.#deadline[at]!);
      if (state !== RecordState.acquired) continue;
      this.#dirty(offset, offset);
      if (this.#count[at]! >= config.deliveryLimit) {
        this.#deadLetter(at, 'delivery_limit', hasDlq);
        outcome.deadLettering += 1;
      } else {
        this.#state[at] = RecordState.available;
        outcome.redeliverable += 1;
      }
    }
    this.nextDeadline = next;
    this.#advanceStart();
    return outcome;
  }
}

export const stateNames = ['AVAILABLE', 'ACQUIRED', 'DELAYED', 'ACKED', 'DEAD_LETTERING', 'DEAD', 'GAP'];
