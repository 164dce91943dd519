/**
 * Replication on one broker: turns the partition states the metadata layer delivers into
 * roles (leader, follower, none), runs one replica fetcher per leader broker for the partitions
 * this broker follows, sends the ISR changes its leaderships decide to the metadata store
 * (one in flight per partition, retried while the store is away), and runs the leader's ISR
 * timer (every replica.lag.time.max.ms / 2) and the high-watermark checkpoint timer.
 *
 * The data path never waits on the metadata store: a proposal is sent in the background and
 * the maximal ISR counts meanwhile (REPLICATION-FACTS.md §C).
 */
import type { Logger } from 'pino';
import type { AlterPartitionOutcome, BrokerEndpoint, PartitionState, PartitionStateWriter } from '../cluster/partition-state.js';
import type { Partition, ReplicationHooks } from '../topics/partition.js';
import type { TopicManager } from '../topics/topic-manager.js';
import type { PendingIsrChange } from './leader-state.js';
import { ReplicaFetcher } from './replica-fetcher.js';
import { type ReplicationSettings, resolveReplicationSettings } from './replication-settings.js';

export interface ReplicaManagerOptions {
  nodeId: number;
  /** This broker's current registration epoch (−1 when unknown). */
  brokerEpoch: () => number;
  topics: TopicManager;
  writer: PartitionStateWriter;
  settings?: Partial<ReplicationSettings>;
  logger: Logger;
  /** Clock for lag decisions; tests move it. */
  now?: () => number;
  /** Local address for connections to leaders (fault tests). */
  localAddress?: string;
}

export interface FollowerLag {
  topic: string;
  partition: number;
  replica: number;
  /** Leader log end minus the follower's (−1: the follower has not fetched since this broker became leader). */
  lagRecords: number;
  /** Time since the follower was last caught up (−1: not since this broker became leader). */
  lagMs: number;
}

export interface ReplicationCounts {
  leaderCount: number;
  followerCount: number;
  /** Led partitions whose ISR is smaller than their replica set. */
  underReplicatedPartitions: number;
  /** Led partitions whose ISR is below min.insync.replicas. */
  underMinIsrPartitions: number;
  /** Partitions with a replica here but no leader (−1). */
  offlinePartitions: number;
  isrShrinks: number;
  isrExpands: number;
  /** Offsets below a follower's high watermark removed by truncation (unclean elections). */
  offsetsLost: number;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ReplicaManager {
  readonly nodeId: number;
  readonly settings: ReplicationSettings;
  readonly #options: ReplicaManagerOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** The latest state applied per partition (also for partitions not open here yet). */
  readonly #states = new Map<string, PartitionState>();
  #brokers: ReadonlyMap<number, BrokerEndpoint> = new Map();
  /** One fetcher per leader broker; keyed by node id. */
  readonly #fetchers = new Map<number, ReplicaFetcher>();
  /** Followed partitions whose leader's address is not known yet. */
  readonly #awaitingLeader = new Map<string, { partition: Partition; leaderId: number; leaderEpoch: number }>();
  readonly #hooks: ReplicationHooks;
  #isrTimer: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #started = false;
  #stopped = false;
  #isrShrinks = 0;
  #isrExpands = 0;
  #offsetsLost = 0;

  constructor(options: ReplicaManagerOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.settings = resolveReplicationSettings(options.settings);
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#hooks = {
      proposeIsr: (partition, change) => this.#propose(partition, change),
      nowMs: () => this.#now(),
      replicaLagTimeMaxMs: this.settings.replicaLagTimeMaxMs,
      brokerEpochOf: (nodeId) => this.#brokers.get(nodeId)?.brokerEpoch,
      isrEligible: (nodeId, brokerEpoch) => {
        // Without broker information (tests, a store that sends none) the store decides alone.
        if (this.#brokers.size === 0) return true;
        const registered = this.#brokers.get(nodeId);
        return registered !== undefined && (brokerEpoch < 0 || registered.brokerEpoch < 0 || registered.brokerEpoch === brokerEpoch);
      },
    };
    // In a cluster no partition leads itself by default: each waits for its state.
    options.topics.onPartitionOpened((partition) => {
      partition.becomeUnassigned();
      const state = this.#states.get(key(partition.topic, partition.index));
      if (state !== undefined) this.#applySafely(partition, state);
    });
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#isrTimer = setInterval(() => this.#checkIsr(), Math.max(1, Math.floor(this.settings.replicaLagTimeMaxMs / 2)));
    this.#checkpointTimer = setInterval(() => this.checkpointHighWatermarks(), this.settings.replicaHighWatermarkCheckpointIntervalMs);
    this.#isrTimer.unref();
    this.#checkpointTimer.unref();
    for (const fetcher of this.#fetchers.values()) fetcher.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#isrTimer);
    clearInterval(this.#checkpointTimer);
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    const fetchers = [...this.#fetchers.values()];
    this.#fetchers.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.stop()));
    this.checkpointHighWatermarks();
  }

  /** The broker is stopping: acks=all produces waiting here answer NOT_LEADER_OR_FOLLOWER now. */
  failWaitingProduces(): void {
    for (const partition of this.#partitions()) partition.failWaitingProduces();
  }

  /**
   * The live (registered, unfenced) brokers with their addresses and epochs: followers find their
   * leaders here, and only these may join an ISR. A fetcher whose leader moved reconnects.
   */
  updateBrokers(brokers: ReadonlyMap<number, BrokerEndpoint>): void {
    this.#brokers = brokers;
    for (const [leaderId, fetcher] of this.#fetchers) {
      const endpoint = brokers.get(leaderId);
      if (endpoint !== undefined && (endpoint.host !== fetcher.leader.host || endpoint.port !== fetcher.leader.port)) {
        const entries = [...fetcher.partitions()];
        this.#fetchers.delete(leaderId);
        void fetcher.stop();
        for (const entry of entries) this.#fetcherFor(endpoint).add(entry.partition, entry.leaderEpoch);
      }
    }
    for (const [id, waiting] of this.#awaitingLeader) {
      const endpoint = brokers.get(waiting.leaderId);
      if (endpoint === undefined) continue;
      this.#awaitingLeader.delete(id);
      if (waiting.partition.role === 'follower' && waiting.partition.leaderEpoch === waiting.leaderEpoch) this.#fetcherFor(endpoint).add(waiting.partition, waiting.leaderEpoch);
    }
  }

  /**
   * A partition's state from the metadata store: become leader, follower or nothing. A state
   * older (lower partition epoch) than the one held is ignored (§B).
   */
  applyPartitionState(state: PartitionState, brokers?: ReadonlyMap<number, BrokerEndpoint>): void {
    if (brokers !== undefined) this.updateBrokers(brokers);
    const id = key(state.topic, state.partition);
    const held = this.#states.get(id);
    if (held !== undefined && state.partitionEpoch < held.partitionEpoch) return;
    this.#states.set(id, state);
    const partition = this.#options.topics.find(state.topic)?.partitionAt(state.partition);
    if (partition !== undefined) this.#applySafely(partition, state);
  }

  /**
   * A role change that fails (the epoch checkpoint cannot be written, the log went offline)
   * leaves the partition with no role rather than half a leader.
   */
  #applySafely(partition: Partition, state: PartitionState): void {
    try {
      this.#apply(partition, state);
    } catch (error) {
      this.#logger.error({ err: error, topic: state.topic, partition: state.partition, leader: state.leader, leaderEpoch: state.leaderEpoch }, 'applying partition state failed; the partition serves nothing here');
      this.#stopFetching(partition);
      partition.becomeFollower(state, 'none');
    }
  }

  /** The partition was deleted: forget its state and stop fetching it. */
  forgetPartition(topic: string, partition: number): void {
    this.#states.delete(key(topic, partition));
    for (const fetcher of this.#fetchers.values()) {
      for (const entry of fetcher.partitions()) if (entry.partition.topic === topic && entry.partition.index === partition) fetcher.remove(entry.partition);
    }
  }

  #apply(partition: Partition, state: PartitionState): void {
    if (state.leader === this.nodeId) {
      this.#stopFetching(partition);
      const pending = partition.leaderState?.pending;
      partition.becomeLeader(state, this.nodeId, this.#hooks);
      // The store's watch may deliver this leader's own ISR change before its answer does.
      const settled = partition.leaderState;
      if (pending !== undefined && settled !== undefined && settled.pending === undefined && settled.isr.join() === pending.proposal.isr.join()) {
        this.#countIsrChange(partition, pending);
      }
      return;
    }
    const isReplica = state.replicas.includes(this.nodeId);
    const following = isReplica && state.leader >= 0;
    const sameTerm = partition.role === (following ? 'follower' : 'none') && partition.leaderId === state.leader && partition.leaderEpoch === state.leaderEpoch;
    const wasLeader = partition.role === 'leader';
    partition.becomeFollower(state, following ? 'follower' : 'none');
    if (!following) {
      this.#stopFetching(partition);
      return;
    }
    // The fetcher restarts only for a new leader or epoch (§B).
    if (sameTerm && !wasLeader) return;
    this.#stopFetching(partition);
    // A log without leader epochs cannot be matched by epoch: it falls back to its high watermark (§B).
    if (partition.log.leaderEpochs.latestEpoch === undefined && partition.highWatermark < partition.log.logEndOffset) {
      this.#logger.info({ topic: partition.topic, partition: partition.index, to: partition.highWatermark }, 'follower without leader epochs truncates to its high watermark');
      partition.log.truncateTo(partition.highWatermark);
    }
    const leader = this.#brokers.get(state.leader);
    if (leader === undefined) {
      this.#logger.warn({ topic: state.topic, partition: state.partition, leader: state.leader }, 'leader broker address unknown; fetching starts when it registers');
      this.#awaitingLeader.set(key(state.topic, state.partition), { partition, leaderId: state.leader, leaderEpoch: state.leaderEpoch });
      return;
    }
    this.#fetcherFor(leader).add(partition, state.leaderEpoch);
  }

  #fetcherFor(leader: BrokerEndpoint): ReplicaFetcher {
    let fetcher = this.#fetchers.get(leader.nodeId);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher({
        nodeId: this.nodeId, leader, brokerEpoch: this.#options.brokerEpoch, settings: this.settings, logger: this.#logger,
        onOffsetsLost: (_partition, count) => { this.#offsetsLost += count; }, localAddress: this.#options.localAddress,
      });
      this.#fetchers.set(leader.nodeId, fetcher);
      if (this.#started && !this.#stopped) fetcher.start();
    }
    return fetcher;
  }

  #stopFetching(partition: Partition): void {
    this.#awaitingLeader.delete(key(partition.topic, partition.index));
    for (const [leaderId, fetcher] of this.#fetchers) {
      fetcher.remove(partition);
      if (fetcher.size === 0) {
        this.#fetchers.delete(leaderId);
        void fetcher.stop();
      }
    }
  }

  #partitions(): Partition[] {
    const all: Partition[] = [];
    for (const topic of this.#options.topics.topics()) all.push(...topic.partitions);
    return all;
  }

  #checkIsr(): void {
    for (const partition of this.#partitions()) partition.checkIsrShrink();
  }

  /** Sends a pending ISR change; the answer settles it (§C). */
  #propose(partition: Partition, change: PendingIsrChange): void {
    const leader = partition.leaderState;
    const send = (): void => {
      if (this.#stopped) return;
      this.#options.writer.alterPartition(change.proposal).then(
        (outcome) => this.#settle(partition, change, outcome, send),
        (error: unknown) => this.#settle(partition, change, { kind: 'unavailable', message: String(error) }, send),
      );
    };
    this.#logger.info({ topic: partition.topic, partition: partition.index, kind: change.kind, isr: change.proposal.isr, leaderEpoch: leader?.leaderEpoch }, 'proposing ISR change');
    send();
  }

  #settle(partition: Partition, change: PendingIsrChange, outcome: AlterPartitionOutcome, resend: () => void): void {
    const leader = partition.leaderState;
    // Leadership moved on meanwhile: this answer belongs to an older term.
    if (leader === undefined || leader.pending !== change) return;
    const applied = leader.applyOutcome(outcome);
    if (applied === 'retry') {
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        if (partition.leaderState?.pending === change) resend();
      }, this.settings.replicaFetchBackoffMs);
      this.#retryTimers.add(timer);
      return;
    }
    if (outcome.kind === 'committed' && applied) {
      this.#countIsrChange(partition, change);
      this.#states.set(key(partition.topic, partition.index), outcome.state);
    } else if (outcome.kind !== 'committed') {
      this.#logger.warn({ topic: partition.topic, partition: partition.index, outcome }, 'ISR change not applied');
    }
    if (applied) partition.isrSettled();
  }

  #countIsrChange(partition: Partition, change: PendingIsrChange): void {
    if (change.kind === 'shrink') this.#isrShrinks += 1;
    else this.#isrExpands += 1;
    this.#logger.info({ topic: partition.topic, partition: partition.index, isr: partition.isr, partitionEpoch: partition.partitionEpoch }, `ISR ${change.kind === 'shrink' ? 'shrunk' : 'expanded'}`);
  }

  /** Writes every partition's high watermark to disk (when the log keeps one). */
  checkpointHighWatermarks(): void {
    for (const partition of this.#partitions()) {
      try {
        if (!partition.log.offline) partition.log.checkpointHighWatermark();
      } catch (error) {
        this.#logger.error({ err: error, topic: partition.topic, partition: partition.index }, 'high watermark checkpoint failed');
      }
    }
  }

  counts(): ReplicationCounts {
    const counts: ReplicationCounts = {
      leaderCount: 0, followerCount: 0, underReplicatedPartitions: 0, underMinIsrPartitions: 0, offlinePartitions: 0,
      isrShrinks: this.#isrShrinks, isrExpands: this.#isrExpands, offsetsLost: this.#offsetsLost,
    };
    for (const partition of this.#partitions()) {
      const state = this.#states.get(key(partition.topic, partition.index));
      if (state !== undefined && state.leader < 0 && state.replicas.includes(this.nodeId)) counts.offlinePartitions += 1;
      if (partition.role === 'follower') counts.followerCount += 1;
      const leader = partition.leaderState;
      if (partition.role !== 'leader' || leader === undefined) continue;
      counts.leaderCount += 1;
      if (leader.isr.length < leader.replicas.length) counts.underReplicatedPartitions += 1;
      if (leader.underMinIsr) counts.underMinIsrPartitions += 1;
    }
    return counts;
  }

  /** Per follower of every led partition: how far behind it is. */
  followerLag(): FollowerLag[] {
    const now = this.#now();
    const lags: FollowerLag[] = [];
    for (const partition of this.#partitions()) {
      const leader = partition.leaderState;
      if (partition.role !== 'leader' || leader === undefined) continue;
      const end = partition.log.logEndOffset;
      for (const follower of leader.followers()) {
        lags.push({
          topic: partition.topic, partition: partition.index, replica: follower.id,
          lagRecords: follower.logEndOffset < 0 ? -1 : end - follower.logEndOffset,
          // Never caught up since this broker became leader (a replica outside the ISR): -1, not "since 1970".
          lagMs: follower.logEndOffset === end ? 0 : follower.lastCaughtUpTimeMs <= 0 ? -1 : Math.max(0, now - follower.lastCaughtUpTimeMs),
        });
      }
    }
    return lags;
  }
}
