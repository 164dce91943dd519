/**
 * What a partition's leader knows about its followers, and the decisions it takes from that:
 * the high watermark, which followers leave or join the ISR, and which ISR counts while a change
 * is waiting for the metadata store. Pure: no I/O, the clock is passed in, so the rules can be
 * checked exhaustively (REPLICATION-FACTS.md §A, §B, §C, §D, §F; Kafka's Partition.scala and
 * Replica.scala).
 */
import type { AlterPartitionOutcome, IsrProposal, PartitionState } from '../cluster/partition-state.js';

/** The leader's view of one follower. LEO −1: not known since this broker became leader. */
export interface FollowerState {
  readonly id: number;
  logEndOffset: number;
  logStartOffset: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  /** The leader's log end when this follower last fetched (the "previous fetch" clause of §A). */
  lastFetchLeaderLogEndOffset: number;
  brokerEpoch: number;
}

/** An ISR change sent to the metadata store and not answered yet. */
export interface PendingIsrChange {
  kind: 'expand' | 'shrink';
  proposal: IsrProposal;
  /** The ISR that counts for the high watermark and acks=all meanwhile (§C). */
  maximalIsr: readonly number[];
}

export interface FollowerFetch {
  fetchOffset: number;
  logStartOffset: number;
  brokerEpoch: number;
  /** The leader's log end snapshotted before the read (§F). */
  leaderLogEndOffset: number;
  nowMs: number;
}

export interface LeaderStateOptions {
  nodeId: number;
  state: PartitionState;
  /** The leader's log end when it took this epoch: the start offset of its epoch. */
  leaderEpochStartOffset: number;
  highWatermark: number;
  minInsyncReplicas: number;
  replicaLagTimeMaxMs: number;
  nowMs: number;
  /** Followers as a previous term of this same leader knew them (kept when it stays leader). */
  previous?: LeaderState;
}

export class LeaderState {
  readonly topic: string;
  readonly partition: number;
  readonly nodeId: number;
  readonly leaderEpoch: number;
  readonly leaderEpochStartOffset: number;
  readonly replicaLagTimeMaxMs: number;
  #minInsyncReplicas: number;
  #partitionEpoch: number;
  #replicas: readonly number[];
  #isr: readonly number[];
  #highWatermark: number;
  #pending: PendingIsrChange | undefined;
  readonly #followers = new Map<number, FollowerState>();

  constructor(options: LeaderStateOptions) {
    const { state } = options;
    this.topic = state.topic;
    this.partition = state.partition;
    this.nodeId = options.nodeId;
    this.leaderEpoch = state.leaderEpoch;
    this.leaderEpochStartOffset = options.leaderEpochStartOffset;
    this.replicaLagTimeMaxMs = options.replicaLagTimeMaxMs;
    this.#minInsyncReplicas = options.minInsyncReplicas;
    this.#partitionEpoch = state.partitionEpoch;
    this.#replicas = [...state.replicas];
    this.#isr = [...state.isr];
    // A leader's high watermark never goes back, across its terms too (§B).
    this.#highWatermark = Math.max(options.highWatermark, options.previous?.highWatermark ?? -1);
    for (const id of state.replicas) {
      if (id === this.nodeId) continue;
      const known = options.previous?.follower(id);
      // A leader that stays leader keeps what it knew; a new leader knows nothing yet, so the
      // high watermark waits until every ISR follower has fetched once (§B).
      this.#followers.set(id, known !== undefined ? { ...known } : {
        id, logEndOffset: -1, logStartOffset: -1, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1, brokerEpoch: -1,
        lastCaughtUpTimeMs: state.isr.includes(id) ? options.nowMs : 0,
      });
    }
  }

  get partitionEpoch(): number {
    return this.#partitionEpoch;
  }

  get replicas(): readonly number[] {
    return this.#replicas;
  }

  /** The committed ISR, as the metadata store last confirmed it. */
  get isr(): readonly number[] {
    return this.#isr;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  get pending(): PendingIsrChange | undefined {
    return this.#pending;
  }

  get minInsyncReplicas(): number {
    return this.#minInsyncReplicas;
  }

  set minInsyncReplicas(value: number) {
    this.#minInsyncReplicas = value;
  }

  /** min.insync.replicas, capped by the number of assigned replicas (§D). */
  get effectiveMinIsr(): number {
    return Math.min(this.#minInsyncReplicas, this.#replicas.length);
  }

  /** The ISR that counts while a change is pending: the larger of before and after (§C). */
  get maximalIsr(): readonly number[] {
    return this.#pending?.maximalIsr ?? this.#isr;
  }

  /** acks=all may append only when the committed ISR is large enough (§D). */
  get underMinIsr(): boolean {
    return this.#isr.length < this.effectiveMinIsr;
  }

  follower(id: number): FollowerState | undefined {
    return this.#followers.get(id);
  }

  followers(): Iterable<FollowerState> {
    return this.#followers.values();
  }

  #caughtUp(follower: FollowerState, leaderLogEndOffset: number, nowMs: number): boolean {
    return follower.logEndOffset === leaderLogEndOffset || nowMs - follower.lastCaughtUpTimeMs <= this.replicaLagTimeMaxMs;
  }

  /**
   * Records a follower's fetch (§A). Returns false when the follower is not a replica of this
   * partition or sent an older broker epoch than it did before (a stale in-flight fetch).
   */
  recordFetch(id: number, fetch: FollowerFetch): boolean {
    const follower = this.#followers.get(id);
    if (follower === undefined) return false;
    if (fetch.brokerEpoch !== -1 && follower.brokerEpoch !== -1 && fetch.brokerEpoch < follower.brokerEpoch) return false;
    if (fetch.fetchOffset >= fetch.leaderLogEndOffset) {
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, fetch.nowMs);
    } else if (fetch.fetchOffset >= follower.lastFetchLeaderLogEndOffset) {
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, follower.lastFetchTimeMs);
    }
    follower.logEndOffset = fetch.fetchOffset;
    follower.logStartOffset = fetch.logStartOffset;
    follower.lastFetchLeaderLogEndOffset = Math.max(fetch.leaderLogEndOffset, follower.lastFetchLeaderLogEndOffset);
    follower.lastFetchTimeMs = fetch.nowMs;
    follower.brokerEpoch = fetch.brokerEpoch;
    return true;
  }

  #proposal(isr: readonly number[]): IsrProposal {
    const brokerEpochs: Record<number, number> = {};
    for (const id of isr) brokerEpochs[id] = this.#followers.get(id)?.brokerEpoch ?? -1;
    return {
      topic: this.topic, partition: this.partition, leaderId: this.nodeId, leaderEpoch: this.leaderEpoch, partitionEpoch: this.#partitionEpoch,
      isr: [...isr], brokerEpochs,
      // A leader of an unclean election has nothing to recover here (no producer state to
      // rebuild yet): leading at all means it is done, so its first ISR change says so and the
      // ISR may grow again (a RECOVERING partition keeps its ISR to the leader alone, §J).
      leaderRecoveryState: 'recovered',
    };
  }

  /**
   * After a follower's fetch: the ISR expansion to propose, if it now qualifies (§A): not in the
   * ISR, no change pending, a replica, its log end at or past both the high watermark and the
   * start of this leader's epoch, and `eligible` (registered, not fenced or shutting down: §K).
   * The change becomes pending; the caller sends it.
   */
  maybeExpandIsr(id: number, eligible = true): PendingIsrChange | undefined {
    if (!eligible || this.#pending !== undefined || this.#isr.includes(id)) return undefined;
    const follower = this.#followers.get(id);
    if (follower === undefined || follower.logEndOffset < 0) return undefined;
    if (follower.logEndOffset < this.#highWatermark || follower.logEndOffset < this.leaderEpochStartOffset) return undefined;
    const isr = [...this.#isr, id];
    this.#pending = { kind: 'expand', proposal: this.#proposal(isr), maximalIsr: isr };
    return this.#pending;
  }

  /** ISR followers out of sync now: not at the leader's log end and not caught up within the lag time (§A). */
  outOfSyncReplicas(leaderLogEndOffset: number, nowMs: number): number[] {
    if (this.#pending !== undefined) return [];
    const out: number[] = [];
    for (const id of this.#isr) {
      if (id === this.nodeId) continue;
      const follower = this.#followers.get(id);
      if (follower === undefined || !this.#caughtUp(follower, leaderLogEndOffset, nowMs)) out.push(id);
    }
    return out;
  }

  /** The timer's check (every lag/2): the shrink to propose, if any follower fell out of sync. */
  maybeShrinkIsr(leaderLogEndOffset: number, nowMs: number): PendingIsrChange | undefined {
    const out = this.outOfSyncReplicas(leaderLogEndOffset, nowMs);
    if (out.length === 0) return undefined;
    const isr = this.#isr.filter((id) => !out.includes(id));
    // The smaller set is not trusted until it is committed: the old ISR still counts (§C).
    this.#pending = { kind: 'shrink', proposal: this.#proposal(isr), maximalIsr: this.#isr };
    return this.#pending;
  }

  /**
   * Moves the high watermark up to the lowest log end among the maximal ISR and the caught-up
   * replicas outside it (§F), but not while the committed ISR is below min ISR (KAFKA-15583).
   * Returns true when it moved.
   */
  maybeAdvanceHighWatermark(
    leaderLogEndOffset: number, nowMs: number, eligible: (followerId: number, brokerEpoch: number) => boolean = () => true,
  ): boolean {
    if (this.underMinIsr) return false;
    const maximal = this.maximalIsr;
    let candidate = leaderLogEndOffset;
    for (const follower of this.#followers.values()) {
      // Outside the ISR only a live, eligible replica counts: a dead broker was "caught up" for
      // up to the lag time after it died, and its frozen log end would pin the high watermark.
      const counts = maximal.includes(follower.id)
        || (follower.logEndOffset >= 0 && this.#caughtUp(follower, leaderLogEndOffset, nowMs) && eligible(follower.id, follower.brokerEpoch));
      if (counts && follower.logEndOffset < candidate) candidate = follower.logEndOffset;
    }
    if (candidate <= this.#highWatermark) return false;
    this.#highWatermark = candidate;
    return true;
  }

  /**
   * The metadata store's answer to the pending change (§C). Returns true when the committed ISR
   * changed (the caller re-evaluates the high watermark), 'retry' when the same proposal should
   * be sent again.
   */
  applyOutcome(outcome: AlterPartitionOutcome): boolean | 'retry' {
    const pending = this.#pending;
    if (pending === undefined) return false;
    switch (outcome.kind) {
      case 'committed': {
        const state = outcome.state;
        if (state.leaderEpoch !== this.leaderEpoch || state.partitionEpoch < this.#partitionEpoch) return false;
        this.#pending = undefined;
        this.#partitionEpoch = state.partitionEpoch;
        this.#isr = [...state.isr];
        return true;
      }
      case 'rejected':
        this.#pending = undefined;
        return true;
      case 'stale':
        return false;
      case 'unavailable':
        return 'retry';
    }
  }

  /**
   * A newer state for the same leader epoch arrived from the metadata store (an ISR change, by
   * this leader or the controller): adopt it; any pending change is settled by it.
   */
  applyState(state: PartitionState): boolean {
    if (state.leaderEpoch !== this.leaderEpoch || state.partitionEpoch <= this.#partitionEpoch) return false;
    this.#pending = undefined;
    this.#partitionEpoch = state.partitionEpoch;
    this.#isr = [...state.isr];
    this.#replicas = [...state.replicas];
    for (const id of state.replicas) {
      if (id === this.nodeId || this.#followers.has(id)) continue;
      this.#followers.set(id, { id, logEndOffset: -1, logStartOffset: -1, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1, brokerEpoch: -1, lastCaughtUpTimeMs: 0 });
    }
    for (const id of this.#followers.keys()) if (!state.replicas.includes(id)) this.#followers.delete(id);
    return true;
  }
}
