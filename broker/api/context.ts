/**
 * What every request handler gets: the topics, the broker's settings, a logger, metrics, and
 * the outcome types. A handler returns a response body, ready frames (fetch writes its record
 * bytes straight from the mapped segments), or nothing (produce with acks=0).
 */
import type { Logger } from 'pino';
import type {
  BodyField, BrokerInfo, CreateTopic, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse, PartitionMetadata, RequestEnvelope,
} from '../../proto/messages.js';
import type { DelayedDelivery } from '../delayed/delayed-delivery.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { OffsetStore } from '../groups/offset-store.js';
import type { BrokerMetrics } from '../http/metrics.js';
import type { ProducerIdAllocator } from '../services/producer-ids.js';
import type { ShareCoordinator } from '../share/share-coordinator.js';
import type { Topic, TopicManager } from '../topics/topic-manager.js';
import type { TransactionCoordinator } from '../transactions/coordinator.js';
import type { StopSignal } from './stop-signal.js';

export interface BrokerSettings {
  nodeId: number;
  advertisedHost: string;
  advertisedPort: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  /** The most record bytes one fetch response carries (fetch.max.bytes). */
  fetchBytesMax: number;
  /** What Kafka-protocol metadata announces for this broker; absent when its Kafka listener is off. */
  kafkaAdvertised?: { host: string; port: number };
}

/**
 * What Metadata, CreateTopics, DeleteTopics, DescribeCluster and ElectLeaders answer from and
 * act on: this broker alone (single-broker.ts), or the cluster as etcd holds it.
 */
export interface ClusterView {
  readonly clusterId: string;
  /** -1 while no controller is elected. */
  controllerId(): number;
  /** Live brokers, this one included, at their native addresses. */
  brokers(): BrokerInfo[];
  /** Live brokers that have a Kafka listener, at its advertised address. */
  kafkaBrokers(): BrokerInfo[];
  topicNames(): string[];
  /** The topic's id (a UUID); undefined for an unknown topic. */
  topicId(name: string): string | undefined;
  /** The name of the topic with this id; undefined when no topic has it. */
  topicName(topicId: string): string | undefined;
  /** Every partition of the topic, wherever it lives; undefined for an unknown topic. */
  describeTopic(name: string): PartitionMetadata[] | undefined;
  createTopic(topic: CreateTopic, validateOnly: boolean): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  /** Grows a topic to `count` partitions (CreatePartitions). */
  createPartitions(name: string, count: number, validateOnly: boolean): Promise<void>;
  /** The topic's config overrides (key=value as users set them); undefined for an unknown topic. */
  topicConfigs(name: string): Record<string, string> | undefined;
  /** Replaces the topic's config overrides with `configs`, checked first (IncrementalAlterConfigs). */
  alterTopicConfigs(name: string, configs: Record<string, string>, validateOnly: boolean): Promise<void>;
  describeCluster(): DescribeClusterResponse;
  electLeaders(request: ElectLeadersRequest): Promise<ElectLeadersResponse>;
}

export interface BrokerContext {
  cluster: ClusterView;
  topics: TopicManager;
  settings: BrokerSettings;
  logger: Logger;
  metrics: BrokerMetrics;
  /** Committed group offsets; set once the logs are open. */
  offsets: OffsetStore;
  groups: GroupCoordinator;
  /** Share groups (queues); set once the logs are open, with the offsets. */
  share?: ShareCoordinator;
  /** The transaction coordinator (transactional ids of the `__transaction_state` partitions led here); set once the logs are open. */
  transactions: TransactionCoordinator;
  /** Delayed delivery's timer log; undefined until the broker has opened its logs (in a cluster: joined). */
  delayed?: DelayedDelivery;
  /** Producer ids for InitProducerId: blocks from etcd in a cluster, from the data directory on one broker. */
  producerIds: ProducerIdAllocator;
  /** Wakes parked requests when the broker starts stopping: long polls answer at once. */
  stopping: StopSignal;
  /** The topic, created with the defaults if auto-creation is on; undefined otherwise. */
  topicOrAutoCreate(name: string): Topic | undefined;
}

export type HandlerResult =
  | { kind: 'body'; body: unknown }
  | { kind: 'frames'; frames: Buffer[] }
  | { kind: 'none' };

export interface ApiHandler {
  api: number;
  name: string;
  bodyField: BodyField;
  minVersion: number;
  maxVersion: number;
  handle(request: RequestEnvelope, context: BrokerContext): Promise<HandlerResult> | HandlerResult;
}
