/**
 * The controller's duties, run by the one broker whose election key is the oldest: keep every
 * partition led by a live in-sync replica (failover, controlled shutdown, leaderless partitions
 * whose ISR member returns), move leadership back to preferred replicas, create and delete
 * topics, answer ElectLeaders. It decides from the watched metadata (pure rules in election.ts,
 * placement.ts) and writes through ControllerWrites, so every write is fenced by its election.
 * A write that loses a race is simply dropped: the watch brings the newer state and the
 * reconcile pass runs again on it.
 */
import type { Logger } from 'pino';
import { type ErrorCode, SluiceError } from '../../proto/errors.js';
import { checkTopicName } from '../topics/topic-name.js';
import type { ControllerWrites, PartitionEntry } from './controller-writes.js';
import { type ElectionOutcome, isImbalanced, type LiveBrokers, onlineElection, preferredElection, uncleanElection } from './election.js';
import type { PartitionState } from './partition-state.js';
import { assignReplicas, type PlacementStart } from './placement.js';
import type { TopicRecord } from './records.js';

export interface ControllerSettings {
  /** auto.leader.rebalance.enable */
  autoLeaderRebalance: boolean;
  /** leader.imbalance.check.interval.seconds, in ms. */
  leaderImbalanceCheckIntervalMs: number;
  /** default.replication.factor */
  defaultReplicationFactor: number;
  /** min.insync.replicas, written into a new topic's configs unless it sets its own. */
  minInsyncReplicas: number;
  /** Pause before a reconcile pass that failed (etcd away) runs again. */
  retryBackoffMs: number;
}

export const defaultControllerSettings: ControllerSettings = {
  autoLeaderRebalance: true,
  leaderImbalanceCheckIntervalMs: 300_000,
  defaultReplicationFactor: 1,
  minInsyncReplicas: 1,
  retryBackoffMs: 250,
};

/** What the controller reads: the broker's watched copy of the metadata. */
export interface MetadataView {
  readonly brokers: LiveBrokers;
  topic(name: string): TopicRecord | undefined;
  partition(topic: string, partition: number): PartitionEntry | undefined;
  partitionEntries(): PartitionEntry[];
}

export interface CreateTopicRequest {
  name: string;
  partitions: number;
  /** −1 or absent: default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
  /** Where the first replica of partition 0 goes (tests); random by default, as Kafka. */
  placement?: PlacementStart;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface ElectLeadersResult extends PartitionRef {
  /** null: elected. */
  code: ErrorCode | null;
  message: string;
}

export const ElectionTypes = { preferred: 0, unclean: 1 } as const;

const electionAttempts = 3;

export class Controller {
  readonly #writes: ControllerWrites;
  readonly #view: MetadataView;
  readonly #settings: ControllerSettings;
  readonly #logger: Logger;
  readonly #onFenced: () => void;
  #stopped = false;
  #running = false;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #rebalanceTimer: NodeJS.Timeout | undefined;
  /** A write failed and was not yet followed by a success: further failures are logged quietly. */
  #failing = false;

  constructor(writes: ControllerWrites, view: MetadataView, settings: ControllerSettings, logger: Logger, onFenced: () => void) {
    this.#writes = writes;
    this.#view = view;
    this.#settings = settings;
    this.#logger = logger;
    this.#onFenced = onFenced;
  }

  get epoch(): number {
    return this.#writes.epoch;
  }

  start(): void {
    this.changed();
    if (this.#settings.autoLeaderRebalance) {
      this.#rebalanceTimer = setInterval(() => void this.#rebalance(), this.#settings.leaderImbalanceCheckIntervalMs);
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#rebalanceTimer);
  }

  /** The watched metadata changed: look at every partition again (coalesced). */
  changed(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#reconcile();
  }

  async #reconcile(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        await this.#reconcileOnce();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = false;
    }
  }

  async #reconcileOnce(): Promise<void> {
    const brokers = this.#view.brokers;
    const writes: Array<Promise<void>> = [];
    for (const entry of this.#view.partitionEntries()) {
      const unclean = this.#view.topic(entry.state.topic)?.configs['unclean.leader.election.enable'] === 'true';
      const next = onlineElection(entry.state, brokers, unclean);
      if (next !== null) writes.push(this.#write(entry, next, 'failover'));
    }
    await Promise.all(writes);
  }

  async #write(entry: PartitionEntry, next: PartitionState, why: string): Promise<void> {
    if (this.#stopped) return;
    const before = entry.state;
    try {
      const written = await this.#writes.writePartition(next, entry.modRevision);
      this.#failing = false;
      if (!written) return;
      const unclean = next.leaderRecoveryState === 'recovering' && !before.isr.includes(next.leader);
      const log = { topic: next.topic, partition: next.partition, leader: next.leader, previousLeader: before.leader, isr: next.isr, leaderEpoch: next.leaderEpoch, partitionEpoch: next.partitionEpoch, why };
      if (unclean) this.#logger.warn({ ...log, previousIsr: before.isr }, 'unclean leader election: the new leader was not in sync, records acknowledged by the old ISR may be lost');
      else if (next.leader === -1) this.#logger.warn(log, 'partition offline: no in-sync replica is alive');
      else this.#logger.info(log, 'partition state changed');
    } catch (error) {
      this.#failed(error);
    }
  }

  #failed(error: unknown): void {
    if (SluiceError.is(error) && error.code === 'SLUICE_ERR_NOT_CONTROLLER') {
      this.#logger.warn({ err: error }, 'controller write refused: another broker is the controller now');
      this.stop();
      this.#onFenced();
      return;
    }
    if (this.#failing) this.#logger.debug({ err: error }, 'controller write failed; retrying');
    else this.#logger.warn({ err: error }, 'controller write failed; retrying');
    this.#failing = true;
    if (this.#retryTimer === undefined && !this.#stopped) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.changed();
      }, this.#settings.retryBackoffMs);
    }
  }

  async #rebalance(): Promise<void> {
    const brokers = this.#view.brokers;
    const imbalanced = this.#view.partitionEntries().filter((entry) => isImbalanced(entry.state, brokers)).map((entry) => entry.state);
    if (imbalanced.length === 0) return;
    try {
      const results = await this.electLeaders(ElectionTypes.preferred, imbalanced.map(({ topic, partition }) => ({ topic, partition })));
      this.#logger.info({ elected: results.filter((r) => r.code === null).length, of: results.length }, 'preferred leaders re-elected');
    } catch (error) {
      this.#failed(error);
    }
  }

  async createTopic(request: CreateTopicRequest): Promise<TopicRecord> {
    const name = checkTopicName(request.name);
    const replicationFactor = request.replicationFactor === undefined || request.replicationFactor === -1
      ? this.#settings.defaultReplicationFactor : request.replicationFactor;
    const assignment = assignReplicas([...this.#view.brokers.values()].filter((b) => !b.shuttingDown).map((b) => b.nodeId),
      request.partitions, replicationFactor, request.placement);
    const configs = { 'min.insync.replicas': String(this.#settings.minInsyncReplicas), ...request.configs };
    const topic: TopicRecord = { name, topicId: crypto.randomUUID(), partitions: request.partitions, replicationFactor, configs };
    const states: PartitionState[] = assignment.map((replicas, partition) => ({
      topic: name, partition, replicas, isr: [...replicas], leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered',
    }));
    await this.#writes.createTopic(topic, states).catch((error: unknown) => this.#rethrow(error));
    this.#logger.info({ topic: name, partitions: topic.partitions, replicationFactor }, 'topic created');
    return topic;
  }

  /** CreatePartitions: the topic grows to `count` partitions, the new ones placed like a new topic's. */
  async createPartitions(name: string, count: number): Promise<void> {
    const topic = this.#view.topic(name);
    if (topic === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    if (!Number.isInteger(count) || count <= topic.partitions) {
      throw new SluiceError('SLUICE_ERR_INVALID_PARTITIONS', `topic ${name} has ${topic.partitions} partitions; it can only grow, not to ${count}`);
    }
    const assignment = assignReplicas([...this.#view.brokers.values()].filter((b) => !b.shuttingDown).map((b) => b.nodeId),
      count - topic.partitions, topic.replicationFactor);
    const states: PartitionState[] = assignment.map((replicas, offset) => ({
      topic: name, partition: topic.partitions + offset, replicas, isr: [...replicas], leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered',
    }));
    await this.#writes.updateTopic({ ...topic, partitions: count }, states).catch((error: unknown) => this.#rethrow(error));
    this.#logger.info({ topic: name, from: topic.partitions, to: count }, 'partitions added');
  }

  /** IncrementalAlterConfigs: the topic's config overrides become `configs` (checked by the caller). */
  async alterTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = this.#view.topic(name);
    if (topic === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    await this.#writes.updateTopic({ ...topic, configs }).catch((error: unknown) => this.#rethrow(error));
    this.#logger.info({ topic: name, configs }, 'topic configs changed');
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#writes.deleteTopic(name).catch((error: unknown) => this.#rethrow(error));
    this.#logger.info({ topic: name }, 'topic deleted');
  }

  #rethrow(error: unknown): never {
    if (SluiceError.is(error) && error.code === 'SLUICE_ERR_NOT_CONTROLLER') {
      this.stop();
      this.#onFenced();
    }
    throw error;
  }

  /**
   * ElectLeaders: type 0 preferred, 1 unclean, for the given partitions or (absent) all of them;
   * for "all", partitions that need no election are left out of the answer, as Kafka does.
   */
  async electLeaders(type: number, partitions?: PartitionRef[]): Promise<ElectLeadersResult[]> {
    if (type !== ElectionTypes.preferred && type !== ElectionTypes.unclean) {
      throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `election type ${type} is neither 0 (preferred) nor 1 (unclean)`);
    }
    const all = partitions === undefined;
    const targets = partitions ?? this.#view.partitionEntries().map(({ state }) => ({ topic: state.topic, partition: state.partition }));
    const results = await Promise.all(targets.map((target) => this.#elect(type, target)));
    return all ? results.filter((r) => r.code !== 'SLUICE_ERR_ELECTION_NOT_NEEDED') : results;
  }

  async #elect(type: number, target: PartitionRef): Promise<ElectLeadersResult> {
    let entry = this.#view.partition(target.topic, target.partition);
    for (let attempt = 0; attempt < electionAttempts; attempt += 1) {
      if (entry === undefined) return { ...target, code: 'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', message: `${target.topic}-${target.partition} does not exist` };
      const outcome: ElectionOutcome = type === ElectionTypes.preferred ? preferredElection(entry.state, this.#view.brokers) : uncleanElection(entry.state, this.#view.brokers);
      if (outcome.kind === 'refused') return { ...target, code: outcome.code, message: outcome.message };
      const written = await this.#writes.writePartition(outcome.state, entry.modRevision).catch((error: unknown) => this.#rethrow(error));
      if (written) {
        if (outcome.unclean) this.#logger.warn({ ...target, leader: outcome.state.leader, previousIsr: entry.state.isr }, 'unclean leader election on request: records acknowledged by the old ISR may be lost');
        return { ...target, code: null, message: `broker ${outcome.state.leader} leads at epoch ${outcome.state.leaderEpoch}` };
      }
      entry = await this.#writes.readPartition(target.topic, target.partition);
    }
    return { ...target, code: 'SLUICE_ERR_INVALID_UPDATE_VERSION', message: `${target.topic}-${target.partition} kept changing during the election; retry` };
  }
}
