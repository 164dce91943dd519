/**
 * Topic metadata a client needs (partition counts), fetched on first use and refreshed when
 * the broker says a topic or partition is unknown.
 */
import type { BrokerConnection } from './connection.js';
import { errorFromWire } from '../proto/errors.js';
import { Api, type TopicMetadata } from '../proto/messages.js';

export class MetadataCache {
  readonly #connection: BrokerConnection;
  readonly #topics = new Map<string, TopicMetadata>();

  constructor(connection: BrokerConnection) {
    this.#connection = connection;
  }

  async topic(name: string, options: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<TopicMetadata> {
    const cached = this.#topics.get(name);
    if (cached !== undefined && !options.refresh) return cached;
    const response = await this.#connection.request<'metadata'>(Api.METADATA, { topics: [name] }, { signal: options.signal });
    const topic = response.topics.find((candidate) => candidate.name === name);
    if (topic === undefined) throw errorFromWire(3, `the broker returned no metadata for topic ${name}`);
    if (topic.errorCode !== 0) throw errorFromWire(topic.errorCode, topic.errorMessage);
    this.#topics.set(name, topic);
    return topic;
  }

  async partitionCount(name: string, signal?: AbortSignal): Promise<number> {
    return (await this.topic(name, { signal })).partitions.length;
  }

  forget(name: string): void {
    this.#topics.delete(name);
  }
}
