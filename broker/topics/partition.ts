/**
 * One partition on this broker: its log and its replica state. Its role is leader, follower or
 * none (offline, or not a replica here). A single broker without a cluster leads every
 * partition itself (node 0, replicas = ISR = [0], epoch 0) with no replication state at all: the
 * high watermark is the log end, and an append wakes both follower and consumer fetches, so
 * that path costs nothing extra per request. A replicated leader keeps a LeaderState (followers'
 * log ends, ISR, high watermark) and the acks=all produces waiting on it.
 *
 * Wake-ups: follower fetches park on appends (new log end); consumer fetches park on the high
 * watermark (REPLICATION-FACTS.md §L); both wake when the role or epoch changes, so a parked
 * request answers NOT_LEADER_OR_FOLLOWER at once.
 */
import { SluiceError } from '../../proto/errors.js';
import type { LeaderIdAndEpoch } from '../../proto/messages.js';
import type { PartitionState } from '../cluster/partition-state.js';
import { DelayedProduces, type DelayedProduceOutcome } from '../replication/delayed-produce.js';
import { type FollowerFetch, LeaderState, type PendingIsrChange } from '../replication/leader-state.js';
import type { Log } from '../storage/log.js';

export type AppendListener = (bytes: number) => void;
export type PartitionRole = 'leader' | 'follower' | 'none';

/** What a replicated leader needs from the replica manager. */
export interface ReplicationHooks {
  /** An ISR change to send to the metadata store (the partition marked it pending). */
  proposeIsr(partition: Partition, change: PendingIsrChange): void;
  nowMs(): number;
  replicaLagTimeMaxMs: number;
  /** A broker's registration epoch as the metadata store has it; undefined when unknown. */
  brokerEpochOf(nodeId: number): number | undefined;
  /** Whether a follower may join the ISR: registered and alive, with this broker epoch (§K). */
  isrEligible(nodeId: number, brokerEpoch: number): boolean;
}

export class Partition {
  readonly topic: string;
  readonly index: number;
  /** Set until the log is first used: a partition opened lazily after a clean stop (see TopicManager.open). */
  #openLog: (() => Log) | undefined;
  #log: Log | undefined;
  readonly #appendListeners = new Set<AppendListener>();
  readonly #highWatermarkListeners = new Set<AppendListener>();
  #role: PartitionRole = 'leader';
  #leaderId: number;
  #leaderEpoch = 0;
  #partitionEpoch = 0;
  #replicas: readonly number[];
  #isr: readonly number[];
  /** Set only on a replicated leader. */
  #leader: LeaderState | undefined;
  #hooks: ReplicationHooks | undefined;
  #delayed: DelayedProduces | undefined;
  /** Whether this partition was ever given state by a replica manager. */
  #replicated = false;
  #closed = false;

  /** `log` may be a function that opens it: it is then called on the partition's first use. */
  constructor(topic: string, index: number, log: Log | (() => Log), nodeId = 0) {
    this.topic = topic;
    this.index = index;
    if (typeof log === 'function') this.#openLog = log;
    else this.#log = log;
    this.#leaderId = nodeId;
    this.#replicas = [nodeId];
    this.#isr = [nodeId];
  }

  /** The partition's log, opened now if this is its first use (a failed open throws, and the next use tries again). */
  get log(): Log {
    if (this.#log === undefined) {
      this.#log = this.#openLog!();
      this.#openLog = undefined;
    }
    return this.#log;
  }

  /** The log if it is open; undefined for a partition not used since the broker started. */
  get openedLog(): Log | undefined {
    return this.#log;
  }

  get role(): PartitionRole {
    return this.#role;
  }

  get leaderId(): number {
    return this.#leaderId;
  }

  get leaderEpoch(): number {
    return this.#leaderEpoch;
  }

  get partitionEpoch(): number {
    return this.#partitionEpoch;
  }

  get replicas(): readonly number[] {
    return this.#leader?.replicas ?? this.#replicas;
  }

  /** The committed ISR as this broker knows it (a follower keeps the last state it was given). */
  get isr(): readonly number[] {
    return this.#leader?.isr ?? this.#isr;
  }

  get leaderState(): LeaderState | undefined {
    return this.#leader;
  }

  get currentLeader(): LeaderIdAndEpoch {
    return { leaderId: this.#leaderId, leaderEpoch: this.#leaderEpoch };
  }

  /** Offsets below this are on every ISR replica: what consumers may read. */
  get highWatermark(): number {
    if (this.#leader !== undefined) return this.#leader.highWatermark;
    if (!this.#replicated) return this.log.logEndOffset;
    return this.log.highWatermark;
  }

  /**
   * What read_committed consumers may read: the high watermark, or the first offset of the
   * oldest open transaction when that is lower. It moves when the high watermark does and when
   * a marker ends a transaction, both of which wake the high-watermark listeners.
   */
  get lastStableOffset(): number {
    return this.log.stableBelow(this.highWatermark);
  }

  /** Called after each append with its size; returns the function that unsubscribes. */
  onAppend(listener: AppendListener): () => void {
    this.#appendListeners.add(listener);
    return () => this.#appendListeners.delete(listener);
  }

  /** Called when the high watermark moves (bytes: Infinity, the fetch re-reads what is there). */
  onHighWatermark(listener: AppendListener): () => void {
    this.#highWatermarkListeners.add(listener);
    return () => this.#highWatermarkListeners.delete(listener);
  }

  /**
   * After every append to the log (produce, group commits, follower appends): wakes follower
   * fetches; on the self-led default also consumers (the high watermark is the log end); on a
   * replicated leader moves the high watermark if the ISR allows (an ISR of the leader alone).
   */
  notifyAppend(bytes: number): void {
    for (const listener of this.#appendListeners) listener(bytes);
    if (this.#leader !== undefined) {
      this.#advanceHighWatermark();
      return;
    }
    if (!this.#replicated) for (const listener of this.#highWatermarkListeners) listener(bytes);
  }

  #wakeAll(): void {
    for (const listener of this.#appendListeners) listener(Infinity);
    for (const listener of this.#highWatermarkListeners) listener(Infinity);
  }

  #highWatermarkMoved(): void {
    const highWatermark = this.highWatermark;
    this.log.highWatermark = highWatermark;
    const leader = this.#leader;
    if (leader !== undefined) this.#delayed?.highWatermarkMoved(highWatermark, leader.maximalIsr.length >= leader.effectiveMinIsr);
    for (const listener of this.#highWatermarkListeners) listener(Infinity);
  }

  #advanceHighWatermark(): void {
    const leader = this.#leader!;
    const hooks = this.#hooks!;
    if (leader.maybeAdvanceHighWatermark(this.log.logEndOffset, hooks.nowMs(), hooks.isrEligible)) this.#highWatermarkMoved();
  }

  /**
   * Epoch check of a request that carries the current leader epoch (−1 or absent: no check),
   * §E: older → FENCED_LEADER_EPOCH, newer → UNKNOWN_LEADER_EPOCH.
   */
  checkLeaderEpoch(requestEpoch: number | null | undefined): void {
    if (requestEpoch === null || requestEpoch === undefined || requestEpoch < 0 || requestEpoch === this.#leaderEpoch) return;
    if (requestEpoch < this.#leaderEpoch) {
      throw new SluiceError('SLUICE_ERR_FENCED_LEADER_EPOCH', `partition ${this.topic}-${this.index}: request leader epoch ${requestEpoch} is older than ${this.#leaderEpoch}; refresh metadata`);
    }
    throw new SluiceError('SLUICE_ERR_UNKNOWN_LEADER_EPOCH', `partition ${this.topic}-${this.index}: request leader epoch ${requestEpoch} is newer than ${this.#leaderEpoch} known here; retry shortly`);
  }

  /** Epoch check, then: this broker must lead the partition (§E). */
  checkLeader(requestEpoch?: number | null): void {
    this.checkLeaderEpoch(requestEpoch);
    if (this.#role !== 'leader') {
      const leader = this.#leaderId < 0 ? 'none (offline)' : `broker ${this.#leaderId}`;
      throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `partition ${this.topic}-${this.index} is led by ${leader} at epoch ${this.#leaderEpoch}, not by this broker; refresh metadata`);
    }
  }

  /** acks=all may append: the committed ISR has min.insync.replicas members (§D). */
  checkEnoughReplicas(): void {
    const leader = this.#leader;
    if (leader === undefined || !leader.underMinIsr) return;
    throw new SluiceError('SLUICE_ERR_NOT_ENOUGH_REPLICAS', `partition ${this.topic}-${this.index} has ${leader.isr.length} in-sync replicas (${leader.isr.join(',')}), fewer than min.insync.replicas ${leader.effectiveMinIsr}; nothing was written`);
  }

  /**
   * acks=all after the append: resolves once the high watermark passes `lastOffset` (null), or
   * with the error to answer. On the self-led default the append is already committed.
   */
  waitForReplication(lastOffset: number, timeoutMs: number): Promise<DelayedProduceOutcome> | null {
    const leader = this.#leader;
    if (leader === undefined) return null;
    if (leader.highWatermark > lastOffset) return Promise.resolve(leader.maximalIsr.length >= leader.effectiveMinIsr ? null : 'SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    this.#delayed ??= new DelayedProduces();
    return this.#delayed.wait(lastOffset, timeoutMs);
  }

  get delayedProduceCount(): number {
    return this.#delayed?.size ?? 0;
  }

  /**
   * A follower's fetch as the leader read it (§A, §F): records its state, proposes an ISR
   * expansion if it qualifies, moves the high watermark. False: the fetch is stale (an older
   * broker epoch) or from a broker that is not a replica.
   */
  recordFollowerFetch(replicaId: number, fetch: Omit<FollowerFetch, 'nowMs'>): boolean {
    const leader = this.#leader;
    const hooks = this.#hooks;
    if (leader === undefined || hooks === undefined) return false;
    // A fetch from an older registration of that broker (restarted meanwhile) is stale (§A, §K).
    const registered = hooks.brokerEpochOf(replicaId);
    if (registered !== undefined && registered >= 0 && fetch.brokerEpoch >= 0 && fetch.brokerEpoch < registered) return false;
    const nowMs = hooks.nowMs();
    if (!leader.recordFetch(replicaId, { ...fetch, nowMs })) return false;
    const change = leader.maybeExpandIsr(replicaId, hooks.isrEligible(replicaId, fetch.brokerEpoch));
    if (change !== undefined) hooks.proposeIsr(this, change);
    if (leader.maybeAdvanceHighWatermark(this.log.logEndOffset, nowMs, hooks.isrEligible)) this.#highWatermarkMoved();
    return true;
  }

  /** The ISR timer (every replica.lag.time.max.ms / 2): proposes a shrink if a follower fell behind. */
  checkIsrShrink(): void {
    const leader = this.#leader;
    const hooks = this.#hooks;
    if (leader === undefined || hooks === undefined) return;
    const change = leader.maybeShrinkIsr(this.log.logEndOffset, hooks.nowMs());
    if (change !== undefined) hooks.proposeIsr(this, change);
  }

  /** After the metadata store answered or a new state for the same epoch arrived. */
  isrSettled(): void {
    if (this.#leader === undefined) return;
    this.#isr = this.#leader.isr;
    this.#partitionEpoch = this.#leader.partitionEpoch;
    this.#advanceHighWatermark();
  }

  /**
   * Becomes (or stays) leader for `state` (§B). A new leader epoch is recorded in the epoch cache
   * at the current log end before any append; the high watermark is kept (never moves back).
   */
  becomeLeader(state: PartitionState, nodeId: number, hooks: ReplicationHooks): void {
    const previous = this.#leader;
    const sameTerm = previous !== undefined && previous.leaderEpoch === state.leaderEpoch;
    // The self-led default's high watermark is its log end; the log's own is not kept up then.
    const highWatermark = this.#replicated ? this.log.highWatermark : this.log.logEndOffset;
    this.#replicated = true;
    this.#hooks = hooks;
    if (sameTerm) {
      if (previous.applyState(state)) this.isrSettled();
      return;
    }
    const logEndOffset = this.log.logEndOffset;
    this.log.leaderEpochs.assign(state.leaderEpoch, logEndOffset);
    this.#leader = new LeaderState({
      nodeId, state, leaderEpochStartOffset: logEndOffset, highWatermark, minInsyncReplicas: this.log.config.minInsyncReplicas,
      replicaLagTimeMaxMs: hooks.replicaLagTimeMaxMs, nowMs: hooks.nowMs(), previous,
    });
    this.#setState(state, 'leader');
    this.#wakeAll();
    // An ISR of the leader alone commits at once.
    this.#advanceHighWatermark();
  }

  /** Becomes follower of `state.leader` (or offline when it is −1 or this broker is not a replica). */
  becomeFollower(state: PartitionState, role: 'follower' | 'none'): void {
    this.log.highWatermark = this.highWatermark;
    this.#replicated = true;
    this.#leader = undefined;
    this.#setState(state, role);
    this.#delayed?.failAll();
    this.#wakeAll();
  }

  /**
   * In a cluster, a partition opened before its state arrived: no role until the replica
   * manager gives it one, so it never acts as the self-led default.
   */
  becomeUnassigned(): void {
    if (this.#replicated) return;
    this.#replicated = true;
    this.#role = 'none';
    this.#leaderId = -1;
    this.#leaderEpoch = -1;
    this.#partitionEpoch = -1;
    this.#replicas = [];
    this.#isr = [];
    this.#wakeAll();
  }

  #setState(state: PartitionState, role: PartitionRole): void {
    this.#role = role;
    this.#leaderId = state.leader;
    this.#leaderEpoch = state.leaderEpoch;
    this.#partitionEpoch = state.partitionEpoch;
    this.#replicas = [...state.replicas];
    this.#isr = [...state.isr];
  }

  /** A follower's high watermark: the leader's, clamped to its own log (§G); it may move down. */
  setFollowerHighWatermark(leaderHighWatermark: number): void {
    const before = this.log.highWatermark;
    this.log.highWatermark = leaderHighWatermark;
    if (this.log.highWatermark === before) return;
    for (const listener of this.#highWatermarkListeners) listener(Infinity);
  }

  failWaitingProduces(): void {
    this.#delayed?.failAll();
  }

  /** The partition is going away (deleted, broker stopping): nothing may wait on it any more. */
  close(): void {
    this.#closed = true;
    this.#role = 'none';
    this.#leader = undefined;
    this.#delayed?.failAll();
    this.#wakeAll();
  }

  get closed(): boolean {
    return this.#closed;
  }
}
