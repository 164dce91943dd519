/**
 * What a client knows of the cluster: its brokers, the controller, and per partition the
 * leader, leader epoch, replicas, ISR and offline replicas of every topic it used. Refreshed
 * on demand when a request meets stale metadata (a moved leader, a fenced epoch, a lost
 * connection): concurrent failures share one refresh, and refreshes are spaced by
 * `refreshBackoffMs`, so a cluster in the middle of an election is not flooded with requests.
 */
import type { BrokerAddress, BrokerPool } from './broker-pool.js';
import type { BrokerConnection } from './connection.js';
import { errorFromWire, SluiceError } from '../proto/errors.js';
import { Api, type BrokerInfo, type MetadataResponse, type PartitionMetadata, type TopicMetadata } from '../proto/messages.js';

export interface MetadataOptions {
  /** Least time between the starts of two refreshes (default 100 ms). */
  refreshBackoffMs?: number;
}

/** Where to send a partition's requests. */
export interface PartitionLeader {
  nodeId: number;
  leaderEpoch: number;
  connection: BrokerConnection;
}

/** Error codes that mean "the metadata this request was routed by is stale". */
export const staleMetadataCodes: ReadonlySet<string> = new Set([
  'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', 'SLUICE_ERR_FENCED_LEADER_EPOCH', 'SLUICE_ERR_UNKNOWN_LEADER_EPOCH', 'SLUICE_ERR_LEADER_NOT_AVAILABLE',
  'SLUICE_ERR_NOT_ENOUGH_REPLICAS', 'SLUICE_ERR_REQUEST_TIMED_OUT', 'SLUICE_ERR_CONNECTION', 'SLUICE_ERR_TIMEOUT',
  'SLUICE_ERR_BROKER_SHUTTING_DOWN', 'SLUICE_ERR_LOG_CLOSED', 'SLUICE_ERR_NOT_CONTROLLER',
]);

/**
 * How long a request routed by metadata tries to connect to a leader before giving up and
 * refreshing the metadata: a dead leader should cost a refresh, not a full connect timeout.
 */
export const leaderConnectTimeoutMs = 1000;

export const isStaleMetadata = (error: unknown): boolean => SluiceError.is(error) && staleMetadataCodes.has(error.code);

export class MetadataCache {
  readonly pool: BrokerPool;
  readonly #refreshBackoffMs: number;
  readonly #topics = new Map<string, TopicMetadata>();
  /** Topics asked for, kept fresh by every refresh. */
  readonly #wanted = new Set<string>();
  #brokers = new Map<number, BrokerInfo>();
  #controllerId = -1;
  #refreshing: Promise<void> | undefined;
  #lastRefreshAt = 0;

  constructor(pool: BrokerPool, options: MetadataOptions = {}) {
    this.pool = pool;
    this.#refreshBackoffMs = options.refreshBackoffMs ?? 100;
  }

  get controllerId(): number {
    return this.#controllerId;
  }

  get brokers(): ReadonlyMap<number, BrokerInfo> {
    return this.#brokers;
  }

  /** A topic's metadata: cached, or fetched (and from then on refreshed) when unknown or asked to. */
  async topic(name: string, options: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<TopicMetadata> {
    const cached = this.#topics.get(name);
    if (cached !== undefined && !options.refresh) return cached;
    this.#wanted.add(name);
    const response = await this.#fetch([name], options.signal);
    const topic = response.topics.find((candidate) => candidate.name === name);
    if (topic === undefined) throw errorFromWire(3, `the broker returned no metadata for topic ${name}`);
    if (topic.errorCode !== 0) {
      this.#wanted.delete(name);
      throw errorFromWire(topic.errorCode, topic.errorMessage);
    }
    return topic;
  }

  async partitionCount(name: string, signal?: AbortSignal): Promise<number> {
    return (await this.topic(name, { signal })).partitions.length;
  }

  /** The cached metadata of one partition. */
  partition(topic: string, partition: number): PartitionMetadata | undefined {
    const partitions = this.#topics.get(topic)?.partitions;
    const entry = partitions?.[partition];
    return entry?.partition === partition ? entry : partitions?.find((candidate) => candidate.partition === partition);
  }

  /** Where a partition's produce, fetch and ListOffsets go; LEADER_NOT_AVAILABLE when it has none now. */
  async leader(topic: string, partition: number, signal?: AbortSignal): Promise<PartitionLeader> {
    let metadata = this.partition(topic, partition);
    if (metadata === undefined) {
      const described = await this.topic(topic, { signal });
      metadata = described.partitions.find((candidate) => candidate.partition === partition);
      if (metadata === undefined) {
        throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has partitions 0..${described.partitions.length - 1}, not ${partition}`);
      }
    }
    const connection = metadata.leader < 0 ? undefined : this.pool.node(metadata.leader);
    if (connection === undefined) {
      throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `${topic}/${partition} has no leader reachable in the client's metadata (leader ${metadata.leader})`);
    }
    return { nodeId: metadata.leader, leaderEpoch: metadata.leaderEpoch ?? 0, connection };
  }

  /**
   * Runs `work` against a partition's leader; on an answer that says the metadata is stale,
   * refreshes it and runs `work` again, until `retryForMs` (default 30 s) has passed.
   */
  async onLeader<T>(topic: string, partition: number, work: (leader: PartitionLeader) => Promise<T>, options: { signal?: AbortSignal; retryForMs?: number } = {}): Promise<T> {
    const deadline = Date.now() + (options.retryForMs ?? 30_000);
    for (;;) {
      try {
        return await work(await this.leader(topic, partition, options.signal));
      } catch (error) {
        if (!isStaleMetadata(error) || Date.now() >= deadline || options.signal?.aborted) throw error;
        await this.refresh(options.signal).catch(() => {});
      }
    }
  }

  /** The controller's connection, refreshing metadata first when none is known. */
  async controller(signal?: AbortSignal): Promise<BrokerConnection> {
    if (this.#controllerId < 0 || this.pool.node(this.#controllerId) === undefined) await this.refresh(signal);
    const connection = this.pool.node(this.#controllerId);
    if (connection === undefined) throw new SluiceError('SLUICE_ERR_NOT_CONTROLLER', `the cluster names no reachable controller (controller id ${this.#controllerId})`);
    return connection;
  }

  /**
   * Fetches fresh metadata for every topic in use. A refresh already running is shared; a new
   * one starts no sooner than refreshBackoffMs after the previous one started. `failedNodeId`,
   * the leader whose failure asks for it, is asked last (BrokerPool.any).
   */
  refresh(signal?: AbortSignal, failedNodeId?: number): Promise<void> {
    this.#refreshing ??= (async () => {
      const waitMs = this.#lastRefreshAt + this.#refreshBackoffMs - Date.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      await this.#fetch([...this.#wanted], signal, failedNodeId);
    })().finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  /** All topics the cluster has (Metadata with no names), refreshing brokers too. */
  async allTopics(signal?: AbortSignal): Promise<TopicMetadata[]> {
    return (await this.#fetch([], signal)).topics;
  }

  forget(name: string): void {
    this.#topics.delete(name);
    this.#wanted.delete(name);
  }

  async #fetch(topics: string[], signal?: AbortSignal, avoidNodeId?: number): Promise<MetadataResponse> {
    this.#lastRefreshAt = Date.now();
    let answeredBy: BrokerAddress | undefined;
    const response = await this.pool.any(async (connection, request) => {
      const answer = await connection.request<'metadata'>(Api.METADATA, { topics }, { signal, connectTimeoutMs: request.connectTimeoutMs });
      answeredBy = { host: connection.options.host, port: connection.options.port };
      return answer;
    }, signal, avoidNodeId);
    this.#brokers = new Map(response.brokers.map((broker) => [broker.nodeId, broker]));
    this.#controllerId = response.controllerId;
    this.pool.setBrokers(response.brokers, answeredBy!);
    for (const topic of response.topics) {
      if (topic.errorCode === 0) {
        // Decoded messages keep unset fields on their prototype: adjust them in place, never spread them.
        if (topic.partitions.some((entry, index) => entry.partition !== index)) topic.partitions = [...topic.partitions].sort((a, b) => a.partition - b.partition);
        this.#topics.set(topic.name, topic);
      } else this.#topics.delete(topic.name);
    }
    return response;
  }
}
