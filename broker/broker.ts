/**
 * A broker process's parts, wired together: topic logs in the data directory, the binary
 * protocol server, the admin HTTP server, and the retention timer; and a graceful stop that
 * stops accepting, answers in-flight requests, syncs and closes every log (leaving the
 * clean-shutdown marker), then closes the servers.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { SluiceError } from '../proto/errors.js';
import { apiVersionsHandler } from './api/api-versions.js';
import type { ApiHandler, BrokerContext } from './api/context.js';
import { fetchHandler } from './api/fetch.js';
import { listOffsetsHandler } from './api/list-offsets.js';
import { metadataHandler } from './api/metadata.js';
import { produceHandler } from './api/produce.js';
import { listGroupsHandler, offsetCommitHandler, offsetFetchHandler } from './api/groups.js';
import {
  describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, joinGroupHandler, leaveGroupHandler, syncGroupHandler,
} from './api/membership.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { createTopicsHandler, deleteTopicsHandler } from './api/topics-admin.js';
import { OffsetStore } from './groups/offset-store.js';
import { createAdminServer } from './http/admin-server.js';
import { BrokerMetrics } from './http/metrics.js';
import { limits } from './limits.js';
import { Connection } from './protocol/connection.js';
import { RetentionTimer } from './storage/retention-timer.js';
import type { LogConfig } from './storage/log-config.js';
import { checkTopicName } from './topics/topic-name.js';
import { TopicManager } from './topics/topic-manager.js';

export const brokerVersion = '0.1.0';

export interface BrokerOptions {
  dataDirectory: string;
  host: string;
  port: number;
  httpHost: string;
  /** -1 turns the admin HTTP server off. */
  httpPort: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  logDefaults: Partial<LogConfig>;
  frameBytesMax: number;
  idleTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long a new group waits for more members. */
  groupInitialRebalanceDelayMs: number;
  logger: Logger;
}

export class Broker {
  readonly options: BrokerOptions;
  readonly topics: TopicManager;
  readonly metrics: BrokerMetrics;
  offsets: OffsetStore | undefined;
  readonly groups: GroupCoordinator;
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  readonly #handlers: Map<number, ApiHandler>;
  readonly #retention: RetentionTimer;
  readonly #context: BrokerContext;
  readonly #admin;
  #stop!: () => void;
  #stopped: Promise<void> | undefined;

  constructor(options: BrokerOptions) {
    this.options = options;
    const logger = options.logger;
    this.topics = new TopicManager(options.dataDirectory, options.logDefaults, (error) => logger.error({ err: error }, 'background storage work failed'));
    this.groups = new GroupCoordinator({ initialRebalanceDelayMs: options.groupInitialRebalanceDelayMs });
    this.metrics = new BrokerMetrics(() => this.topics, () => this.offsets);
    const handlers: ApiHandler[] = [
      metadataHandler, createTopicsHandler, deleteTopicsHandler, produceHandler, fetchHandler, listOffsetsHandler,
      offsetCommitHandler, offsetFetchHandler, listGroupsHandler,
      findCoordinatorHandler, joinGroupHandler, syncGroupHandler, heartbeatHandler, leaveGroupHandler, describeGroupsHandler,
    ];
    handlers.push(apiVersionsHandler(() => handlers, brokerVersion));
    this.#handlers = new Map(handlers.map((handler) => [handler.api, handler]));
    this.#retention = new RetentionTimer(() => this.topics.logs(), options.logDefaults.retentionCheckIntervalMs ?? 5 * 60 * 1000,
      (error, log) => logger.error({ err: error, log: log.directory }, 'retention failed'));
    const stopping = new Promise<void>((resolve) => { this.#stop = resolve; });
    this.#context = {
      topics: this.topics,
      logger,
      metrics: this.metrics,
      offsets: undefined as unknown as OffsetStore,
      groups: this.groups,
      stopping,
      settings: { nodeId: 0, advertisedHost: options.host, advertisedPort: options.port, autoCreateTopics: options.autoCreateTopics, defaultPartitions: options.defaultPartitions },
      topicOrAutoCreate: (name) => {
        const existing = this.topics.find(name);
        if (existing !== undefined || !options.autoCreateTopics) return existing;
        checkTopicName(name);
        const created = this.topics.create(name, options.defaultPartitions, {});
        logger.info({ topic: name, partitions: options.defaultPartitions }, 'topic auto-created');
        return created;
      },
    };
    this.#server = net.createServer((socket) => this.#accept(socket));
    this.#admin = options.httpPort >= 0 ? createAdminServer(this.topics, this.metrics, () => this.offsets, () => this.groups) : undefined;
  }

  /** Opens the logs (recovering them if needed) and starts listening; returns the bound ports. */
  async start(): Promise<{ port: number; httpPort: number }> {
    const started = Date.now();
    this.topics.open();
    this.#context.offsets = new OffsetStore(this.topics);
    this.offsets = this.#context.offsets;
    for (const topic of this.topics.topics()) {
      for (const partition of topic.partitions) {
        const report = partition.log.loadReport;
        if (!report.clean) this.options.logger.warn({ topic: topic.record.name, partition: partition.index, ...report }, 'recovered partition after an unclean stop');
        else if (report.indexesRebuilt > 0) this.options.logger.warn({ topic: topic.record.name, partition: partition.index, ...report }, 'rebuilt partition indexes that failed validation');
      }
    }
    this.#retention.start();
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.port, this.options.host, () => resolve());
    });
    const port = (this.#server.address() as net.AddressInfo).port;
    this.#context.settings.advertisedPort = port;
    let httpPort = -1;
    if (this.#admin !== undefined) {
      await this.#admin.listen({ host: this.options.httpHost, port: this.options.httpPort });
      httpPort = (this.#admin.server.address() as net.AddressInfo).port;
    }
    this.options.logger.info({ host: this.options.host, port, httpPort, dataDirectory: this.options.dataDirectory, topics: this.topics.topics().length, startMs: Date.now() - started }, 'broker ready');
    return { port, httpPort };
  }

  #accept(socket: net.Socket): void {
    if (this.#stopped !== undefined) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, this.#handlers, this.#context, {
      frameBytesMax: this.options.frameBytesMax,
      inflightRequestsMax: limits.inflightRequestsMax,
      idleTimeoutMs: this.options.idleTimeoutMs,
    });
    this.#connections.add(connection);
    this.metrics.connectionOpened();
    socket.once('close', () => {
      this.#connections.delete(connection);
      this.metrics.connectionClosed();
    });
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    const logger = this.options.logger;
    logger.info({ connections: this.#connections.size }, 'broker stopping');
    this.#stop();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, limits.shutdownGraceMs).unref());
    await Promise.race([Promise.all([...this.#connections].map((connection) => connection.idle())), grace]);
    this.#retention.stop();
    this.groups.close();
    try {
      this.topics.close();
    } catch (error) {
      logger.error({ err: error }, 'closing the logs failed');
      throw SluiceError.is(error) ? error : new SluiceError('SLUICE_ERR_STORAGE', 'closing the logs failed', { cause: error });
    } finally {
      for (const connection of this.#connections) connection.end();
      const forced = setTimeout(() => { for (const connection of this.#connections) connection.destroy(); }, 2000);
      await closed;
      clearTimeout(forced);
      await this.#admin?.close();
    }
    logger.info('broker stopped');
  }
}
