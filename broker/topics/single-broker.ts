/**
 * The cluster of one: without --cluster this broker is the controller and the only replica
 * of every partition it holds, and topics are records in its data directory.
 */
import { SluiceError } from '../../proto/errors.js';
import type { BrokerInfo, CreateTopic, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse, PartitionMetadata } from '../../proto/messages.js';
import type { ClusterView } from '../api/context.js';
import { checkNotInternal } from './topic-name.js';
import type { TopicManager } from './topic-manager.js';

export class SingleBroker implements ClusterView {
  readonly clusterId = 'single-broker';
  readonly #topics: TopicManager;
  readonly #self: () => BrokerInfo;
  readonly #kafkaSelf: () => BrokerInfo | undefined;

  /** `kafkaSelf`: this broker at its Kafka listener's advertised address, undefined when it has none. */
  constructor(topics: TopicManager, self: () => BrokerInfo, kafkaSelf: () => BrokerInfo | undefined = () => undefined) {
    this.#topics = topics;
    this.#self = self;
    this.#kafkaSelf = kafkaSelf;
  }

  controllerId(): number {
    return this.#self().nodeId;
  }

  brokers(): BrokerInfo[] {
    return [this.#self()];
  }

  kafkaBrokers(): BrokerInfo[] {
    const self = this.#kafkaSelf();
    return self === undefined ? [] : [self];
  }

  topicNames(): string[] {
    return this.#topics.topics().map((topic) => topic.record.name);
  }

  topicId(name: string): string | undefined {
    return this.#topics.find(name)?.record.topicId;
  }

  topicName(topicId: string): string | undefined {
    return this.#topics.nameById(topicId);
  }

  describeTopic(name: string): PartitionMetadata[] | undefined {
    const nodeId = this.#self().nodeId;
    return this.#topics.find(name)?.partitions.map((partition) => ({
      partition: partition.index, errorCode: 0, leader: nodeId, leaderEpoch: 0, replicas: [nodeId], isr: [nodeId], offlineReplicas: [],
    }));
  }

  async createTopic(topic: CreateTopic, validateOnly: boolean): Promise<void> {
    const factor = topic.replicationFactor ?? 0;
    if (factor > 1) {
      throw new SluiceError('SLUICE_ERR_INVALID_REPLICATION_FACTOR', `replication factor ${factor} needs ${factor} brokers; this broker runs alone (start a cluster with --cluster to replicate)`);
    }
    const configs = { ...(topic.configs ?? {}) };
    if (validateOnly) this.#topics.create(topic.name, topic.partitions, configs, true);
    else await this.#topics.createAsync(topic.name, topic.partitions, configs);
  }

  async deleteTopic(name: string): Promise<void> {
    checkNotInternal(name, 'delete');
    await this.#topics.deleteAsync(name);
  }

  async createPartitions(name: string, count: number, validateOnly: boolean): Promise<void> {
    checkNotInternal(name, 'add partitions to');
    this.#topics.addPartitions(name, count, validateOnly);
  }

  topicConfigs(name: string): Record<string, string> | undefined {
    return this.#topics.find(name)?.record.configs;
  }

  async alterTopicConfigs(name: string, configs: Record<string, string>, validateOnly: boolean): Promise<void> {
    checkNotInternal(name, 'change the configs of');
    this.#topics.alterConfigs(name, configs, validateOnly);
  }

  describeCluster(): DescribeClusterResponse {
    const self = this.#self();
    let leaderCount = 0;
    for (const topic of this.#topics.topics()) leaderCount += topic.partitions.length;
    return {
      clusterId: this.clusterId,
      controllerId: self.nodeId,
      brokers: [{ nodeId: self.nodeId, host: self.host, port: self.port, rack: self.rack ?? '', alive: true, brokerEpoch: 0, leaderCount, shuttingDown: false }],
    };
  }

  /** One replica per partition: it already leads, so every election is not needed. */
  async electLeaders(request: ElectLeadersRequest): Promise<ElectLeadersResponse> {
    const wanted = request.topics !== undefined && request.topics.length > 0
      ? request.topics
      : this.#topics.topics().map((topic) => ({ name: topic.record.name, partitions: topic.partitions.map((partition) => partition.index) }));
    return {
      topics: wanted.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          const exists = this.#topics.find(topic.name)?.partitionAt(partition) !== undefined;
          const error = exists
            ? new SluiceError('SLUICE_ERR_ELECTION_NOT_NEEDED', `partition ${partition} of ${topic.name} is led by its only replica`)
            : new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `no partition ${partition} of topic ${topic.name}`);
          return { partition, errorCode: error.wireCode, errorMessage: error.detail };
        }),
      })),
    };
  }
}
