/**
 * Topic administration: create, delete, list, and describe (partitions with their offsets).
 */
import type { BrokerConnection } from './connection.js';
import { errorFromWire } from './errors.js';
import { Api, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from './protocol/messages.js';

export interface TopicDescription {
  name: string;
  partitions: Array<{ partition: number; leader: number; logStartOffset: number; logEndOffset: number }>;
}

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
    const offsets = async (timestamp: number) => {
      const response = await this.#connection.request<'listOffsets'>(Api.LIST_OFFSETS, {
        topics: [{ name, partitions: topic.partitions.map((partition) => ({ partition: partition.partition, timestamp })) }],
      });
      return new Map((response.topics[0]?.partitions ?? []).map((partition) => [partition.partition, partition.offset]));
    };
    const [starts, ends] = await Promise.all([offsets(EARLIEST_TIMESTAMP), offsets(LATEST_TIMESTAMP)]);
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
}
