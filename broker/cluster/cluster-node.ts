/**
 * A broker's place in its cluster. It makes this broker's logs and roles follow what etcd says
 * (a replica's log is opened when a partition state names this broker, removed when it no
 * longer does or the topic is deleted; every state goes to the replica manager, which turns it
 * into leader, follower or nothing), answers Metadata and the admin APIs from the cluster's
 * view, and, while this broker is the controller, creates `__consumer_offsets`,
 * `__transaction_state` and `__delayed_records` once enough brokers are alive to replicate them
 * (Kafka's offsets.topic.replication.factor rule; the other two use the same factor).
 */
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import type {
  BrokerInfo, CreateTopic, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse, PartitionMetadata,
} from '../../proto/messages.js';
import type { ClusterView } from '../api/context.js';
import { offsetsTopic, offsetsTopicConfigs } from '../groups/offsets-topic.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import { checkNotInternal } from '../topics/topic-name.js';
import { checkLiveChange, type TopicManager } from '../topics/topic-manager.js';
import type { ClusterMetadata, TopicRecord } from './cluster-metadata.js';
import { ClusterOffsetsPartitions } from './cluster-offsets-partitions.js';
import { txnStateTopic, txnStateTopicConfigs } from '../transactions/txn-topic.js';
import { delayedTopic, delayedTopicConfigs } from '../delayed/delayed-topic.js';
import type { PartitionState } from './partition-state.js';

export interface ClusterNodeOptions {
  metadata: ClusterMetadata;
  topics: TopicManager;
  replicas: ReplicaManager;
  logger: Logger;
  /** offsets.topic.num.partitions and offsets.topic.replication.factor. */
  offsetsTopicPartitions: number;
  offsetsTopicReplicationFactor: number;
  /** transaction.state.log.num.partitions. */
  txnStatePartitions: number;
  /** `__delayed_records`' partitions when first made. */
  delayedPartitions: number;
  /** unclean.leader.election.enable for topics created without their own. */
  uncleanLeaderElection: boolean;
}

export class ClusterNode implements ClusterView {
  readonly offsets: ClusterOffsetsPartitions;
  readonly transactionState: ClusterOffsetsPartitions;
  /** The timer log of delayed delivery: each partition is fired by its leader. */
  readonly delayedTimers: ClusterOffsetsPartitions;
  readonly #metadata: ClusterMetadata;
  readonly #topics: TopicManager;
  readonly #replicas: ReplicaManager;
  readonly #logger: Logger;
  readonly #options: ClusterNodeOptions;
  readonly #creatingInternal = new Set<string>();

  constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.#metadata = options.metadata;
    this.#topics = options.topics;
    this.#replicas = options.replicas;
    this.#logger = options.logger;
    this.offsets = new ClusterOffsetsPartitions(options.topics, options.metadata, options.offsetsTopicPartitions);
    this.transactionState = new ClusterOffsetsPartitions(options.topics, options.metadata, options.txnStatePartitions, txnStateTopic);
    this.delayedTimers = new ClusterOffsetsPartitions(options.topics, options.metadata, options.delayedPartitions, delayedTopic);
  }

  get clusterId(): string {
    return this.#metadata.clusterName;
  }

  /** Applies everything etcd holds now, then follows its changes. */
  start(): void {
    const metadata = this.#metadata;
    this.#replicas.updateBrokers(metadata.brokerEndpoints());
    for (const state of metadata.partitionStates()) this.#apply(state);
    metadata.on('partitionState', (state) => this.#apply(state));
    metadata.on('topicCreated', (topic) => {
      for (let partition = 0; partition < topic.partitions; partition += 1) {
        const state = metadata.partitionState(topic.name, partition);
        if (state !== undefined) this.#apply(state);
      }
    });
    metadata.on('partitionDeleted', (topic, partition) => this.#drop(topic, partition));
    metadata.on('topicChanged', (topic) => this.#topics.recordChanged(this.#localRecord(topic)));
    metadata.on('topicDeleted', (topic) => {
      for (const partition of [...(this.#topics.find(topic.name)?.partitions ?? [])]) this.#drop(topic.name, partition.index);
      this.#forgetTopic(topic.name);
    });
    metadata.on('brokers', () => {
      this.#replicas.updateBrokers(metadata.brokerEndpoints());
      this.#maybeCreateOffsetsTopic();
    });
    metadata.on('controllerRole', (active) => {
      this.#logger.info({ nodeId: metadata.nodeId }, active ? 'this broker is now the controller' : 'this broker is no longer the controller');
      this.#maybeCreateOffsetsTopic();
    });
    this.#maybeCreateOffsetsTopic();
  }

  #localRecord(topic: TopicRecord) {
    return { name: topic.name, partitions: topic.partitions, configs: topic.configs, createdAtMs: 0, topicId: topic.topicId };
  }

  #apply(state: PartitionState): void {
    const topic = this.#metadata.topic(state.topic);
    if (topic === undefined) return;
    const local = this.#topics.find(state.topic)?.partitionAt(state.partition);
    if (state.replicas.includes(this.#metadata.nodeId)) {
      if (local === undefined) {
        try {
          this.#topics.openReplica(this.#localRecord(topic), state.partition);
        } catch (error) {
          this.#logger.error({ err: error, topic: state.topic, partition: state.partition }, 'cannot open this broker\'s replica; the partition is not served here');
          return;
        }
      }
      this.#replicas.applyPartitionState(state, this.#metadata.brokerEndpoints());
    } else if (local !== undefined) {
      this.#drop(state.topic, state.partition);
    }
    if (state.topic === offsetsTopic) this.offsets.roleMaybeChanged(state.partition);
    if (state.topic === txnStateTopic) this.transactionState.roleMaybeChanged(state.partition);
    if (state.topic === delayedTopic) this.delayedTimers.roleMaybeChanged(state.partition);
  }

  /** This broker is no longer a replica (or the topic is gone): stop and remove the log. */
  #drop(topic: string, partition: number): void {
    this.#replicas.forgetPartition(topic, partition);
    try {
      this.#topics.removeReplica(topic, partition);
    } catch (error) {
      this.#logger.error({ err: error, topic, partition }, 'cannot remove a replica this broker no longer holds');
    }
    if (topic === offsetsTopic) this.offsets.roleMaybeChanged(partition);
    if (topic === txnStateTopic) this.transactionState.roleMaybeChanged(partition);
    if (topic === delayedTopic) this.delayedTimers.roleMaybeChanged(partition);
  }

  #forgetTopic(name: string): void {
    const topic = this.#topics.find(name);
    if (topic === undefined || topic.partitions.length > 0) return;
    try {
      this.#topics.delete(name);
    } catch (error) {
      this.#logger.error({ err: error, topic: name }, 'cannot forget a deleted topic');
    }
  }

  #maybeCreateOffsetsTopic(): void {
    this.#maybeCreateInternal(offsetsTopic, this.offsets.count, offsetsTopicConfigs);
    this.#maybeCreateInternal(txnStateTopic, this.transactionState.count, txnStateTopicConfigs);
    this.#maybeCreateInternal(delayedTopic, this.delayedTimers.count, delayedTopicConfigs);
  }

  #maybeCreateInternal(name: string, partitions: number, configs: Readonly<Record<string, string>>): void {
    const metadata = this.#metadata;
    if (!metadata.isController || this.#creatingInternal.has(name) || metadata.topic(name) !== undefined) return;
    const live = [...metadata.brokers.values()].filter((broker) => !broker.shuttingDown).length;
    // Kafka waits for offsets.topic.replication.factor live brokers rather than make it under-replicated for good.
    if (live < this.#options.offsetsTopicReplicationFactor) return;
    this.#creatingInternal.add(name);
    const replicationFactor = this.#options.offsetsTopicReplicationFactor;
    metadata.createTopic({ name, partitions, replicationFactor, configs: { ...configs } }).then(
      () => this.#logger.info({ partitions, replicationFactor }, `${name} created`),
      (error: unknown) => this.#logger.warn({ err: error }, `cannot create ${name} yet; trying again at the next broker change`),
    ).finally(() => { this.#creatingInternal.delete(name); });
  }

  // ---- ClusterView ----

  controllerId(): number {
    return this.#metadata.controllerId;
  }

  brokers(): BrokerInfo[] {
    return [...this.#metadata.brokers.values()].sort((a, b) => a.nodeId - b.nodeId)
      .map((broker) => ({ nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack ?? '' }));
  }

  kafkaBrokers(): BrokerInfo[] {
    return [...this.#metadata.brokers.values()].sort((a, b) => a.nodeId - b.nodeId).flatMap((broker) =>
      (broker.kafka === undefined ? [] : [{ nodeId: broker.nodeId, host: broker.kafka.host, port: broker.kafka.port, rack: broker.rack ?? '' }]));
  }

  topicNames(): string[] {
    return this.#metadata.topics().map((topic) => topic.name).sort();
  }

  topicId(name: string): string | undefined {
    return this.#metadata.topic(name)?.topicId;
  }

  topicName(topicId: string): string | undefined {
    return this.#metadata.topicNameById(topicId);
  }

  describeTopic(name: string): PartitionMetadata[] | undefined {
    const topic = this.#metadata.topic(name);
    if (topic === undefined) return undefined;
    const alive = this.#metadata.brokers;
    const partitions: PartitionMetadata[] = [];
    for (let partition = 0; partition < topic.partitions; partition += 1) {
      const state = this.#metadata.partitionState(name, partition);
      if (state === undefined) {
        const error = new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `partition ${partition} of ${name} has no state yet`);
        partitions.push({ partition, errorCode: error.wireCode, leader: -1, leaderEpoch: -1, replicas: [], isr: [], offlineReplicas: [] });
        continue;
      }
      const leaderAlive = state.leader >= 0 && alive.has(state.leader);
      partitions.push({
        partition,
        errorCode: leaderAlive ? 0 : new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', '').wireCode,
        leader: leaderAlive ? state.leader : -1,
        leaderEpoch: state.leaderEpoch,
        replicas: [...state.replicas],
        isr: [...state.isr],
        offlineReplicas: state.replicas.filter((replica) => !alive.has(replica)),
      });
    }
    return partitions;
  }

  async createTopic(topic: CreateTopic, validateOnly: boolean): Promise<void> {
    checkNotInternal(topic.name, 'create');
    if (validateOnly) {
      if (!this.#metadata.isController) throw new SluiceError('SLUICE_ERR_NOT_CONTROLLER', `CreateTopics must go to the controller (broker ${this.#metadata.controllerId})`);
      if (this.#metadata.topic(topic.name) !== undefined) throw new SluiceError('SLUICE_ERR_TOPIC_ALREADY_EXISTS', `topic ${topic.name} already exists`);
      return;
    }
    await this.#metadata.createTopic({
      name: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor === undefined || topic.replicationFactor === 0 ? -1 : topic.replicationFactor,
      configs: { ...(this.#options.uncleanLeaderElection ? { 'unclean.leader.election.enable': 'true' } : {}), ...(topic.configs ?? {}) },
    });
  }

  async deleteTopic(name: string): Promise<void> {
    checkNotInternal(name, 'delete');
    await this.#metadata.deleteTopic(name);
  }

  async createPartitions(name: string, count: number, validateOnly: boolean): Promise<void> {
    checkNotInternal(name, 'add partitions to');
    if (validateOnly) {
      this.#requireController('CreatePartitions');
      const topic = this.#metadata.topic(name);
      if (topic === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
      if (!Number.isInteger(count) || count <= topic.partitions) {
        throw new SluiceError('SLUICE_ERR_INVALID_PARTITIONS', `topic ${name} has ${topic.partitions} partitions; it can only grow, not to ${count}`);
      }
      return;
    }
    await this.#metadata.createPartitions(name, count);
  }

  topicConfigs(name: string): Record<string, string> | undefined {
    return this.#metadata.topic(name)?.configs;
  }

  async alterTopicConfigs(name: string, configs: Record<string, string>, validateOnly: boolean): Promise<void> {
    checkNotInternal(name, 'change the configs of');
    const topic = this.#metadata.topic(name);
    if (topic === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    checkLiveChange(this.#topics.resolveConfig(topic.configs), this.#topics.resolveConfig(configs));
    if (validateOnly) {
      this.#requireController('IncrementalAlterConfigs');
      return;
    }
    await this.#metadata.alterTopicConfigs(name, configs);
  }

  #requireController(what: string): void {
    if (!this.#metadata.isController) throw new SluiceError('SLUICE_ERR_NOT_CONTROLLER', `${what} must go to the controller (broker ${this.#metadata.controllerId})`);
  }

  describeCluster(): DescribeClusterResponse {
    return this.#metadata.describeCluster();
  }

  async electLeaders(request: ElectLeadersRequest): Promise<ElectLeadersResponse> {
    const wanted = request.topics !== undefined && request.topics.length > 0
      ? request.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })))
      : undefined;
    const results = await this.#metadata.electLeaders(request.electionType, wanted);
    const byTopic = new Map<string, ElectLeadersResponse['topics'][number]>();
    for (const result of results) {
      let entry = byTopic.get(result.topic);
      if (entry === undefined) {
        entry = { name: result.topic, partitions: [] };
        byTopic.set(result.topic, entry);
      }
      const error = result.code === null ? undefined : new SluiceError(result.code, result.message);
      entry.partitions.push({ partition: result.partition, errorCode: error?.wireCode ?? 0, errorMessage: error?.detail ?? '' });
    }
    return { topics: [...byTopic.values()] };
  }
}
