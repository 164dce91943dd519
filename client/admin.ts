/**
 * Topic administration: create, delete, list, and describe (partitions with their offsets).
 */
import type { BrokerConnection } from './connection.js';
import { errorFromWire } from '../proto/errors.js';
import { Api, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from '../proto/messages.js';

export interface TopicDescription {
  name: string;
  partitions: Array<{ partition: number; leader: number; logStartOffset: number; logEndOffset: number }>;
}

export interface GroupDescription {
  groupId: string;
  state: string;
  members: number;
  generationId: number;
  memberDetails: Array<{ memberId: string; clientId: string; groupInstanceId: string; partitions: Array<{ topic: string; partition: number }> }>;
  partitions: Array<{ topic: string; partition: number; committedOffset: number; logEndOffset: number; lag: number; commitTimestamp: number }>;
}

export type ResetTarget = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

export class Admin {
  readonly #connection: BrokerConnection;

  constructor(connection: BrokerConnection) {
    this.#connection = connection;
  }

  async createTopic(name: string, options: { partitions?: number; configs?: Record<string, string>; validateOnly?: boolean } = {}): Promise<void> {
    const response = await this.#connection.request<'createTopics'>(Api.CREATE_TOPICS, {
      topics: [{ name, partitions: options.partitions ?? 1, replicationFactor: 1, configs: options.configs ?? {} }],
      validateOnly: options.validateOnly ?? false,
    });
    const result = response.topics[0];
    if (result !== undefined && result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
  }

  async deleteTopic(name: string): Promise<void> {
    const response = await this.#connection.request<'deleteTopics'>(Api.DELETE_TOPICS, { topics: [name] });
    const result = response.topics[0];
    if (result !== undefined && result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
  }

  async listTopics(): Promise<string[]> {
    const response = await this.#connection.request<'metadata'>(Api.METADATA, { topics: [] });
    return response.topics.map((topic) => topic.name).sort();
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const metadata = await this.#connection.request<'metadata'>(Api.METADATA, { topics: [name] });
    const topic = metadata.topics[0];
    if (topic === undefined) throw errorFromWire(3, `unknown topic ${name}`);
    if (topic.errorCode !== 0) throw errorFromWire(topic.errorCode, topic.errorMessage);
    const indexes = topic.partitions.map((partition) => partition.partition);
    const [starts, ends] = await Promise.all([this.#offsets(name, indexes, EARLIEST_TIMESTAMP), this.#offsets(name, indexes, LATEST_TIMESTAMP)]);
    return {
      name,
      partitions: topic.partitions.map((partition) => ({
        partition: partition.partition,
        leader: partition.leader,
        logStartOffset: starts.get(partition.partition) ?? -1,
        logEndOffset: ends.get(partition.partition) ?? -1,
      })),
    };
  }

  /** The broker that coordinates a group. */
  async findCoordinator(groupId: string): Promise<{ nodeId: number; host: string; port: number }> {
    return this.#connection.request<'findCoordinator'>(Api.FIND_COORDINATOR, { key: groupId, keyType: 0 });
  }

  async listGroups(): Promise<Array<{ groupId: string; state: string; members: number }>> {
    return (await this.#connection.request<'listGroups'>(Api.LIST_GROUPS, {})).groups;
  }

  /** Committed offsets of a group with each partition's log end and lag. */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const [described, committed] = await Promise.all([
      this.#connection.request<'describeGroups'>(Api.DESCRIBE_GROUPS, { groupIds: [groupId] }),
      this.#connection.request<'offsetFetch'>(Api.OFFSET_FETCH, { groupId, topics: [] }),
    ]);
    const group = described.groups[0];
    const memberDetails = (group?.members ?? []).map((member) => ({
      memberId: member.memberId, clientId: member.clientId, groupInstanceId: member.groupInstanceId,
      partitions: member.assignment.length === 0 ? [] : (JSON.parse(member.assignment.toString()) as { partitions: Array<{ topic: string; partition: number }> }).partitions,
    }));
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
    return { groupId, state: group?.state ?? 'Dead', members: memberDetails.length, generationId: group?.generationId ?? 0, memberDetails, partitions };
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
    const response = await this.#connection.request<'offsetCommit'>(Api.OFFSET_COMMIT, { groupId, generationId: -1, memberId: '', topics: [{ name: topic, partitions: entries }] });
    for (const result of response.topics[0]?.partitions ?? []) if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    return entries;
  }

  async #offsets(topic: string, partitions: number[], timestamp: number): Promise<Map<number, number>> {
    const response = await this.#connection.request<'listOffsets'>(Api.LIST_OFFSETS, { topics: [{ name: topic, partitions: partitions.map((partition) => ({ partition, timestamp })) }] });
    return new Map((response.topics[0]?.partitions ?? []).map((partition) => [partition.partition, partition.offset]));
  }
}
