/**
 * Topic, group and cluster administration. Topic changes and elections go to the controller
 * (found in the metadata, found again when a broker answers NOT_CONTROLLER); group requests go
 * to the group's coordinator; offsets are asked of each partition's leader.
 */
import type { BrokerConnection } from './connection.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { leaderConnectTimeoutMs, type MetadataCache } from './metadata.js';
import { describeConsumerMember } from '../proto/consumer-protocol.js';
import { errorFromWire, SluiceError } from '../proto/errors.js';
import {
  Api, type ClusterBroker, type DescribeShareGroupResponse, EARLIEST_TIMESTAMP, ElectionType, type GroupConfigEntry, IsolationLevel, LATEST_TIMESTAMP,
} from '../proto/messages.js';

export interface PartitionDescription {
  partition: number;
  /** -1: no leader now (offline, or an election is running). */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  /** -1 when the leader could not be asked. */
  logStartOffset: number;
  logEndOffset: number;
  /** Where read_committed consumers stop: below logEndOffset while a transaction is open; -1 when unknown. */
  lastStableOffset: number;
}

export interface TopicDescription {
  name: string;
  partitions: PartitionDescription[];
}

export interface ClusterDescription {
  clusterId: string;
  controllerId: number;
  brokers: Array<ClusterBroker & { controller: boolean }>;
}

export interface CreateTopicOptions {
  partitions?: number;
  /** Copies of each partition (default: the broker's default.replication.factor, 1 on a single broker). */
  replicationFactor?: number;
  /** Topic configs: retention.ms, cleanup.policy, min.insync.replicas, ... */
  configs?: Record<string, string>;
  validateOnly?: boolean;
}

export interface TransactionListing {
  transactionalId: string;
  producerId: number;
  state: string;
  /** The broker that coordinates it. */
  coordinatorId: number;
}

export interface TransactionDetails {
  transactionalId: string;
  coordinatorId: number;
  /** Kafka's names: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead, PrepareEpochFence. */
  state: string;
  transactionTimeoutMs: number;
  /** When the open transaction started (epoch ms); -1 when none is open. */
  transactionStartTimeMs: number;
  producerId: number;
  producerEpoch: number;
  partitions: Array<{ topic: string; partition: number }>;
  /** Set when the coordinator could not describe it (TRANSACTIONAL_ID_NOT_FOUND, ...). */
  error?: SluiceError;
}

export interface ElectLeadersOptions {
  type: 'preferred' | 'unclean';
  /** Partitions to elect for; default every partition. */
  partitions?: Array<{ topic: string; partition?: number }>;
}

export interface ElectionResult {
  topic: string;
  partition: number;
  /** Undefined when the election was done (or not needed: ELECTION_NOT_NEEDED is reported as `notNeeded`). */
  error?: SluiceError;
  notNeeded: boolean;
}

export interface GroupListing {
  groupId: string;
  state: string;
  members: number;
  /** classic (JoinGroup consumers) or share (queues). */
  type: 'classic' | 'share';
}

export interface GroupDescription {
  groupId: string;
  state: string;
  members: number;
  generationId: number;
  /** The assignor the group uses ('' while it has no members). */
  protocolName: string;
  memberDetails: Array<{
    memberId: string; clientId: string; groupInstanceId: string;
    /** False when the member's bytes are not Kafka's ConsumerProtocol (a group of another kind): its topics and partitions are unknown. */
    readable: boolean;
    /** The topics it subscribes to, and the partitions it was assigned. */
    topics: string[];
    partitions: Array<{ topic: string; partition: number }>;
  }>;
  partitions: Array<{ topic: string; partition: number; committedOffset: number; logEndOffset: number; lag: number; commitTimestamp: number }>;
}

/** A share group now: its members and, per share-partition, the window and the records in it by state. */
export type ShareGroupDescription = Omit<DescribeShareGroupResponse, 'errorCode' | 'errorMessage'>;

export type ResetTarget = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

/** How long a controller request keeps following a moving controller. */
const controllerRetryMs = 30_000;

export class Admin {
  readonly #metadata: MetadataCache;

  constructor(metadata: MetadataCache) {
    this.#metadata = metadata;
  }

  /**
   * Runs `work` on the controller; a broker that is not (or no longer) the controller makes
   * the admin refresh the metadata and ask the controller it names.
   */
  async #onController<T>(work: (connection: BrokerConnection) => Promise<T>): Promise<T> {
    const deadline = Date.now() + controllerRetryMs;
    for (;;) {
      try {
        return await work(await this.#metadata.controller());
      } catch (error) {
        const moved = SluiceError.is(error) && (error.code === 'SLUICE_ERR_NOT_CONTROLLER' || error.code === 'SLUICE_ERR_CONNECTION');
        if (!moved || Date.now() >= deadline) throw error;
        await this.#metadata.refresh().catch(() => {});
      }
    }
  }

  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<void> {
    await this.#onController(async (connection) => {
      const response = await connection.request<'createTopics'>(Api.CREATE_TOPICS, {
        topics: [{
          name, partitions: options.partitions ?? 1, configs: options.configs ?? {},
          // Left out, the broker's default.replication.factor applies.
          ...(options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor }),
        }],
        validateOnly: options.validateOnly ?? false,
      });
      const result = response.topics[0];
      if (result !== undefined && result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    });
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#onController(async (connection) => {
      const response = await connection.request<'deleteTopics'>(Api.DELETE_TOPICS, { topics: [name] });
      const result = response.topics[0];
      if (result !== undefined && result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    });
    this.#metadata.forget(name);
  }

  async listTopics(): Promise<string[]> {
    return (await this.#metadata.allTopics()).map((topic) => topic.name).sort();
  }

  /** A topic's partitions: leader, leader epoch, replicas, ISR, offline replicas, and offsets from each leader. */
  async describeTopic(name: string): Promise<TopicDescription> {
    const topic = await this.#metadata.topic(name, { refresh: true });
    const indexes = topic.partitions.map((partition) => partition.partition);
    const [starts, ends, stable] = await Promise.all([
      this.#offsets(name, indexes, EARLIEST_TIMESTAMP), this.#offsets(name, indexes, LATEST_TIMESTAMP), this.#offsets(name, indexes, LATEST_TIMESTAMP, IsolationLevel.READ_COMMITTED),
    ]);
    return {
      name,
      partitions: topic.partitions.map((partition) => ({
        partition: partition.partition,
        leader: partition.leader,
        leaderEpoch: partition.leaderEpoch ?? 0,
        replicas: [...partition.replicas],
        isr: [...partition.isr],
        offlineReplicas: [...(partition.offlineReplicas ?? [])],
        logStartOffset: starts.get(partition.partition) ?? -1,
        logEndOffset: ends.get(partition.partition) ?? -1,
        lastStableOffset: stable.get(partition.partition) ?? -1,
      })),
    };
  }

  /**
   * The brokers of the cluster (alive or not), the controller and how many partitions each
   * leads. A broker without DescribeCluster (a single node of an older version) is described
   * from its Metadata.
   */
  async describeCluster(): Promise<ClusterDescription> {
    let described: { clusterId: string; controllerId: number; brokers: ClusterBroker[] };
    try {
      described = await this.#metadata.pool.any((connection, request) => connection.request<'describeCluster'>(Api.DESCRIBE_CLUSTER, {}, request));
    } catch (error) {
      if (!SluiceError.is(error) || error.code !== 'SLUICE_ERR_UNKNOWN_API') throw error;
      described = await this.#clusterFromMetadata();
    }
    return {
      clusterId: described.clusterId,
      controllerId: described.controllerId,
      brokers: [...described.brokers].sort((a, b) => a.nodeId - b.nodeId).map((broker) => ({
        nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack ?? '', alive: broker.alive, brokerEpoch: broker.brokerEpoch,
        leaderCount: broker.leaderCount, shuttingDown: broker.shuttingDown, controller: broker.nodeId === described.controllerId,
      })),
    };
  }

  async #clusterFromMetadata(): Promise<{ clusterId: string; controllerId: number; brokers: ClusterBroker[] }> {
    const topics = await this.#metadata.allTopics();
    const leaderCounts = new Map<number, number>();
    for (const topic of topics) for (const partition of topic.partitions) leaderCounts.set(partition.leader, (leaderCounts.get(partition.leader) ?? 0) + 1);
    return {
      clusterId: '',
      controllerId: this.#metadata.controllerId,
      brokers: [...this.#metadata.brokers.values()].map((broker) => ({
        nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack ?? '', alive: true, brokerEpoch: 0,
        leaderCount: leaderCounts.get(broker.nodeId) ?? 0, shuttingDown: false,
      })),
    };
  }

  /**
   * Asks the controller to elect leaders: 'preferred' moves leadership back to each
   * partition's first replica where it is in sync; 'unclean' lets an out-of-sync replica lead
   * an offline partition (records may be lost). Without `partitions`, every partition.
   */
  async electLeaders(options: ElectLeadersOptions): Promise<ElectionResult[]> {
    let topics: Array<{ name: string; partitions: number[] }> | undefined;
    if (options.partitions !== undefined) {
      const byTopic = new Map<string, number[]>();
      for (const entry of options.partitions) {
        const partitions = entry.partition !== undefined ? [entry.partition] : (await this.#metadata.topic(entry.topic, { refresh: true })).partitions.map((partition) => partition.partition);
        byTopic.set(entry.topic, [...(byTopic.get(entry.topic) ?? []), ...partitions]);
      }
      topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    }
    const electionType = options.type === 'preferred' ? ElectionType.PREFERRED : ElectionType.UNCLEAN;
    const response = await this.#onController((connection) => connection.request<'electLeaders'>(Api.ELECT_LEADERS, { electionType, ...(topics === undefined ? {} : { topics }) }))
      .catch((error: unknown) => {
        if (!SluiceError.is(error) || error.code !== 'SLUICE_ERR_UNKNOWN_API') throw error;
        throw new SluiceError('SLUICE_ERR_UNKNOWN_API', 'the broker does not elect leaders: it is not part of a cluster (a single broker leads every partition itself), or its version predates elections', { cause: error });
      });
    const results: ElectionResult[] = [];
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        const error = partition.errorCode === 0 ? undefined : errorFromWire(partition.errorCode, partition.errorMessage);
        const notNeeded = error?.code === 'SLUICE_ERR_ELECTION_NOT_NEEDED';
        results.push({ topic: topic.name, partition: partition.partition, notNeeded, ...(error === undefined || notNeeded ? {} : { error }) });
      }
    }
    return results;
  }

  /** The broker that coordinates a group. */
  async findCoordinator(groupId: string): Promise<{ nodeId: number; host: string; port: number }> {
    const coordinator = new GroupCoordinator(this.#metadata, groupId);
    const connection = await coordinator.find();
    return { nodeId: coordinator.nodeId, host: connection.options.host, port: connection.options.port };
  }

  /** Every group of the cluster, classic and share: each broker lists the groups it coordinates. */
  async listGroups(): Promise<GroupListing[]> {
    await this.#metadata.refresh();
    const nodes = this.#metadata.pool.nodeIds();
    // A broker that cannot answer now (dying, or just gone) coordinates nothing anyone can use: skip it.
    const listings = await Promise.all(nodes.map((nodeId) => this.#metadata.pool.node(nodeId)!.request<'listGroups'>(Api.LIST_GROUPS, {}, { connectTimeoutMs: leaderConnectTimeoutMs })
      .catch((error: unknown) => {
        if (SluiceError.is(error) && error.retriable && nodes.length > 1) return { groups: [] };
        throw error;
      })));
    const groups = new Map<string, GroupListing>();
    for (const listing of listings) {
      for (const group of listing.groups) groups.set(group.groupId, { groupId: group.groupId, state: group.state, members: group.members, type: group.type === 'share' ? 'share' : 'classic' });
    }
    return [...groups.values()];
  }

  /** Committed offsets of a group with each partition's log end and lag. */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const coordinator = new GroupCoordinator(this.#metadata, groupId);
    const [described, committed] = await Promise.all([
      coordinator.request<'describeGroups'>(Api.DESCRIBE_GROUPS, { groupIds: [groupId] }),
      coordinator.request<'offsetFetch'>(Api.OFFSET_FETCH, { groupId, topics: [] }),
    ]);
    const group = described.groups[0];
    const memberDetails = (group?.members ?? []).map((member) => {
      // Kafka clients' members too: everyone in a consumer group writes ConsumerProtocol.
      const { topics, partitions } = describeConsumerMember(group!.protocolType, member.metadata, member.assignment);
      return {
        memberId: member.memberId, clientId: member.clientId, groupInstanceId: member.groupInstanceId,
        readable: topics !== null && partitions !== null, topics: topics ?? [], partitions: partitions ?? [],
      };
    });
    const partitions: GroupDescription['partitions'] = [];
    for (const topic of committed.topics) {
      const ends = await this.#offsets(topic.name, topic.partitions.map((partition) => partition.partition), LATEST_TIMESTAMP);
      for (const partition of topic.partitions) {
        const end = ends.get(partition.partition) ?? -1;
        partitions.push({
          topic: topic.name, partition: partition.partition, committedOffset: partition.offset, logEndOffset: end,
          lag: end < 0 ? -1 : Math.max(0, end - partition.offset), commitTimestamp: partition.commitTimestamp,
        });
      }
    }
    return {
      groupId, state: group?.state ?? 'Dead', members: memberDetails.length, generationId: group?.generationId ?? 0, protocolName: group?.protocolName ?? '', memberDetails, partitions,
    };
  }

  /**
   * Moves a group's committed offsets for every partition of `topic` to the earliest or latest
   * offset, an offset, or the first offset at or after a time.
   */
  async resetOffsets(groupId: string, topic: string, target: ResetTarget): Promise<Array<{ partition: number; offset: number }>> {
    const description = await this.describeTopic(topic);
    const partitions = description.partitions.map((partition) => partition.partition);
    let offsets: Map<number, number>;
    if (target === 'earliest') offsets = new Map(description.partitions.map((partition) => [partition.partition, partition.logStartOffset]));
    else if (target === 'latest') offsets = new Map(description.partitions.map((partition) => [partition.partition, partition.logEndOffset]));
    else if ('offset' in target) {
      offsets = new Map(description.partitions.map((partition) => [partition.partition, Math.min(Math.max(target.offset, partition.logStartOffset), partition.logEndOffset)]));
    } else {
      const found = await this.#offsets(topic, partitions, target.timestamp);
      offsets = new Map(description.partitions.map((partition) => {
        const offset = found.get(partition.partition) ?? -1;
        return [partition.partition, offset < 0 ? partition.logEndOffset : offset];
      }));
    }
    const entries = [...offsets].map(([partition, offset]) => ({ partition, offset }));
    await new GroupCoordinator(this.#metadata, groupId).call(async (connection, request) => {
      const response = await connection.request<'offsetCommit'>(Api.OFFSET_COMMIT, { groupId, generationId: -1, memberId: '', topics: [{ name: topic, partitions: entries }] }, request);
      for (const result of response.topics[0]?.partitions ?? []) if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    });
    return entries;
  }

  /**
   * Sets a group's configs (share.delivery.limit, share.retry.backoff.ms, share.dlq.topic,
   * share.record.lock.duration.ms, ...; values are strings, checked by the coordinator); a key
   * set to null goes back to its default. All or nothing: INVALID_CONFIG names the bad key.
   */
  async alterGroupConfigs(groupId: string, configs: Record<string, string | null>, options: { validateOnly?: boolean } = {}): Promise<void> {
    const entries = Object.entries(configs);
    const set = Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== null));
    const remove = entries.filter(([, value]) => value === null).map(([key]) => key);
    await new GroupCoordinator(this.#metadata, groupId).call(async (connection, request) => {
      const answer = await connection.request<'alterGroupConfigs'>(Api.ALTER_GROUP_CONFIGS, { groupId, set, delete: remove, validateOnly: options.validateOnly ?? false }, request);
      if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage);
    });
  }

  /** Every config of a group with its value and whether the group set it or it is the default. */
  async describeGroupConfigs(groupId: string): Promise<GroupConfigEntry[]> {
    return new GroupCoordinator(this.#metadata, groupId).call(async (connection, request) => {
      const answer = await connection.request<'describeGroupConfigs'>(Api.DESCRIBE_GROUP_CONFIGS, { groupId }, request);
      if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage);
      return answer.configs.map((entry) => ({ name: entry.name, value: entry.value, source: entry.source }));
    });
  }

  /** A share group's members and its share-partitions: window, acquired, available, delayed, acknowledged, dead-lettered by reason, oldest lock. */
  async describeShareGroup(groupId: string): Promise<ShareGroupDescription> {
    return new GroupCoordinator(this.#metadata, groupId).call(async (connection, request) => {
      const answer = await connection.request<'describeShareGroup'>(Api.DESCRIBE_SHARE_GROUP, { groupId }, request);
      if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage);
      return {
        groupId: answer.groupId || groupId, state: answer.state,
        members: answer.members.map((member) => ({ memberId: member.memberId, clientId: member.clientId, host: member.host, topics: [...member.topics], inFlight: member.inFlight })),
        partitions: answer.partitions.map((partition) => ({
          topic: partition.topic, partition: partition.partition, startOffset: partition.startOffset, endOffset: partition.endOffset,
          acquired: Number(partition.acquired), available: Number(partition.available), delayed: Number(partition.delayed),
          acknowledged: Number(partition.acknowledged), deadLettered: Number(partition.deadLettered), oldestLockAgeMs: Number(partition.oldestLockAgeMs),
          skipped: Number(partition.skipped),
          deadLetteredByReason: Object.fromEntries(Object.entries(partition.deadLetteredByReason ?? {}).map(([reason, count]) => [reason, Number(count)])),
        })),
      };
    });
  }

  /**
   * Every transactional id the cluster's coordinators know: each broker lists the ones it
   * coordinates (ListTransactions), optionally only in some states (Ongoing, PrepareCommit,
   * CompleteCommit, ...) or of some producer ids.
   */
  async listTransactions(filters: { states?: string[]; producerIds?: number[] } = {}): Promise<TransactionListing[]> {
    await this.#metadata.refresh();
    const nodes = this.#metadata.pool.nodeIds();
    const body = { stateFilters: filters.states ?? [], producerIdFilters: filters.producerIds ?? [] };
    const listings = await Promise.all(nodes.map(async (nodeId) => {
      try {
        const answer = await this.#metadata.pool.node(nodeId)!.request<'listTransactions'>(Api.LIST_TRANSACTIONS, body, { connectTimeoutMs: leaderConnectTimeoutMs });
        if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage);
        return answer.transactions.map((entry) => ({ transactionalId: entry.transactionalId, producerId: entry.producerId, state: entry.state, coordinatorId: nodeId }));
      } catch (error) {
        // A broker that cannot answer now (dying, or just gone) coordinates nothing anyone can use: skip it.
        if (SluiceError.is(error) && error.retriable && nodes.length > 1) return [];
        throw error;
      }
    }));
    const merged = new Map<string, TransactionListing>();
    for (const entry of listings.flat()) merged.set(entry.transactionalId, entry);
    return [...merged.values()].sort((a, b) => a.transactionalId.localeCompare(b.transactionalId));
  }

  /** The state, partitions, timeout and producer id/epoch of transactional ids, each asked of its coordinator. */
  async describeTransactions(transactionalIds: string[]): Promise<TransactionDetails[]> {
    return Promise.all(transactionalIds.map(async (transactionalId): Promise<TransactionDetails> => {
      const coordinator = new GroupCoordinator(this.#metadata, transactionalId, { keyType: 1 });
      const answer = await coordinator.call(async (connection, request) => {
        const response = await connection.request<'describeTransactions'>(Api.DESCRIBE_TRANSACTIONS, { transactionalIds: [transactionalId] }, request);
        const found = response.transactions.find((entry) => entry.transactionalId === transactionalId) ?? response.transactions[0];
        if (found === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', `the coordinator answered DescribeTransactions for ${transactionalId} with nothing`);
        // A coordinator that moved says so per id: find it again.
        if (found.errorCode) {
          const error = errorFromWire(found.errorCode, found.errorMessage);
          if (error.code === 'SLUICE_ERR_NOT_COORDINATOR' || error.code === 'SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS' || error.code === 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE') throw error;
        }
        return found;
      });
      const base = { transactionalId, coordinatorId: coordinator.nodeId };
      if (answer.errorCode) return { ...base, state: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, partitions: [], error: errorFromWire(answer.errorCode, answer.errorMessage) };
      return {
        ...base, state: answer.state, transactionTimeoutMs: answer.transactionTimeoutMs, transactionStartTimeMs: answer.transactionStartTimeMs,
        producerId: answer.producerId, producerEpoch: answer.producerEpoch,
        partitions: answer.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition }))),
      };
    }));
  }

  /** Offsets at `timestamp` of a topic's partitions, each asked of its leader (a partition whose leader cannot answer is left out). */
  async #offsets(topic: string, partitions: number[], timestamp: number, isolationLevel: number = IsolationLevel.READ_UNCOMMITTED): Promise<Map<number, number>> {
    const byLeader = new Map<number, { connection: BrokerConnection; partitions: Array<{ partition: number; timestamp: number; currentLeaderEpoch: number }> }>();
    for (const partition of partitions) {
      const leader = await this.#metadata.leader(topic, partition).catch(() => undefined);
      if (leader === undefined) continue;
      let group = byLeader.get(leader.nodeId);
      if (group === undefined) byLeader.set(leader.nodeId, group = { connection: leader.connection, partitions: [] });
      group.partitions.push({ partition, timestamp, currentLeaderEpoch: leader.leaderEpoch });
    }
    const offsets = new Map<number, number>();
    await Promise.all([...byLeader.values()].map(async (group) => {
      // A leader that just died must not hold describeTopic for the whole connect timeout: its
      // offsets are reported unknown after one short attempt, as the producer treats a dead leader.
      const response = await group.connection.request<'listOffsets'>(Api.LIST_OFFSETS, { topics: [{ name: topic, partitions: group.partitions }], isolationLevel }, { connectTimeoutMs: leaderConnectTimeoutMs }).catch((error: unknown) => {
        if (SluiceError.is(error) && error.retriable) return undefined;
        throw error;
      });
      for (const partition of response?.topics[0]?.partitions ?? []) if (partition.errorCode === 0) offsets.set(partition.partition, partition.offset);
    }));
    return offsets;
  }
}
