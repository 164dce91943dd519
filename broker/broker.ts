/**
 * A broker process's parts, wired together: topic logs in the data directory, the binary
 * protocol server, the Kafka protocol server, the admin HTTP server, and the retention timer; and a graceful stop that
 * stops accepting, answers in-flight requests, syncs and closes every log (leaving the
 * clean-shutdown marker), then closes the servers.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { SluiceError } from '../proto/errors.js';
import { apiVersionsHandler } from './api/api-versions.js';
import { describeClusterHandler, electLeadersHandler } from './api/cluster-admin.js';
import type { ApiHandler, BrokerContext } from './api/context.js';
import { fetchHandler } from './api/fetch.js';
import { listOffsetsHandler } from './api/list-offsets.js';
import { metadataHandler } from './api/metadata.js';
import { offsetsForLeaderEpochHandler } from './api/offsets-for-leader-epoch.js';
import { produceHandler } from './api/produce.js';
import { writeTxnMarkersHandler } from './api/txn-markers.js';
import { StopSignal } from './api/stop-signal.js';
import { listGroupsHandler, offsetCommitHandler, offsetFetchHandler } from './api/groups.js';
import {
  describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, joinGroupHandler, leaveGroupHandler, syncGroupHandler,
} from './api/membership.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { GroupExpiry, offsetsRetentionCheckIntervalMsDefault, offsetsRetentionMsDefault } from './groups/group-expiry.js';
import { createTopicsHandler, deleteTopicsHandler } from './api/topics-admin.js';
import { transactionHandlers } from './api/transactions.js';
import { OffsetStore, repairOffsetsTopicRecord } from './groups/offset-store.js';
import { createAdminServer } from './http/admin-server.js';
import { BrokerMetrics } from './http/metrics.js';
import { limits } from './limits.js';
import { Connection } from './protocol/connection.js';
import { NativeProtocol } from './protocol/native-protocol.js';
import { KafkaProtocol } from './kafka/kafka-protocol.js';
import { RequestMemory } from './protocol/request-memory.js';
import type { PartitionStateWriter } from './cluster/partition-state.js';
import { ReplicaManager } from './replication/replica-manager.js';
import type { ReplicationSettings } from './replication/replication-settings.js';
import { RetentionTimer } from './storage/retention-timer.js';
import type { LogConfig } from './storage/log-config.js';
import type { LoadReport } from './storage/log-loader.js';
import { SingleBroker } from './topics/single-broker.js';
import { TopicManager } from './topics/topic-manager.js';
import { raiseFileLimit } from './storage/mmap.js';
import { defaultPartitionBudget } from './storage/resource-budget.js';
import { brokerResources } from './topics/resources.js';
import { defaultSegmentCacheSize, segmentCache } from './storage/segment-cache.js';
import { checkNotInternal } from './topics/topic-name.js';
import { TopicStore } from './topics/topic-store.js';
import type { ClusterMetadata } from './cluster/cluster-metadata.js';
import { ClusterNode } from './cluster/cluster-node.js';
import { TransactionCoordinator, txnMaxTimeoutMsDefault } from './transactions/coordinator.js';
import { LocalTxnStatePartitions } from './transactions/local-txn-partitions.js';
import { MarkerSender } from './transactions/marker-sender.js';
import { txnStatePartitionsDefault } from './transactions/txn-topic.js';
import { TxnStateStore } from './transactions/txn-store.js';
import { TxnTimeouts, txnCleanupIntervalMsDefault, txnIdExpirationMsDefault } from './transactions/txn-timeouts.js';
import type { OffsetsTopicPartitions } from './groups/offsets-partitions.js';
import { DelayedDelivery, type DelayedDeliveryOptions } from './delayed/delayed-delivery.js';
import type { TimerSettings } from './delayed/timer-settings.js';
import { LocalTimerIo, type TimerIo } from './delayed/timer-io.js';
import { ClusterTimerIo } from './delayed/cluster-timer-io.js';
import { delayedClusterPartitionsDefault } from './delayed/delayed-topic.js';
import { LeaderLinks } from './replication/leader-links.js';
import { BrokerPartitionSource } from './replication/partition-source.js';
import { initProducerIdHandler } from './api/producer-ids.js';
import { EtcdBlockSource, FileBlockSource, ProducerIdAllocator } from './services/producer-ids.js';
import { shareHandlers } from './api/share.js';
import { startShareCoordinator } from './share/start.js';
import type { ShareCoordinator } from './share/share-coordinator.js';

export const brokerVersion = '0.1.0';

/** Cluster mode (`--cluster`): metadata in etcd, partitions replicated between brokers. */
export interface ClusterOptions {
  /** etcd client URLs, http://HOST:PORT. */
  endpoints: string[];
  /** Key prefix in etcd (/sluice/<name>/), so clusters can share one etcd. */
  name: string;
  /** broker.session.timeout.ms: a broker whose lease is this old is dead (etcd grants whole seconds). */
  sessionTimeoutMs: number;
  rack?: string;
  /** default.replication.factor for CreateTopics without one. */
  defaultReplicationFactor: number;
  /** auto.leader.rebalance.enable and how often imbalance is checked. */
  autoLeaderRebalance: boolean;
  leaderImbalanceCheckIntervalMs: number;
  /** offsets.topic.num.partitions: __consumer_offsets' partitions when a cluster first makes it. */
  offsetsTopicPartitions: number;
  /** offsets.topic.replication.factor: the controller makes __consumer_offsets once this many brokers are alive. */
  offsetsTopicReplicationFactor: number;
  /** min.insync.replicas and unclean.leader.election.enable for topics created without their own. */
  minInsyncReplicas: number;
  uncleanLeaderElection: boolean;
  /** How long a stopping broker waits for the controller to move its leaderships away. */
  controlledShutdownTimeoutMs: number;
  /**
   * Source address of this broker's connections to other brokers (replica fetches), so a
   * firewall rule on a broker's own address cuts all of its links at once; default: the OS picks.
   */
  localAddress?: string;
}

/** The Kafka-protocol listener (`--kafka-listen`). */
export interface KafkaListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** What Kafka metadata announces for this broker (default: the listen address and bound port). */
  advertise?: { host: string; port: number };
}

export interface BrokerOptions {
  dataDirectory: string;
  /** What metadata announces for this broker, when clients must not use the listen address. */
  advertise?: { host: string; port: number };
  /** Serve Kafka's wire protocol too; absent: no Kafka listener. */
  kafka?: KafkaListenerOptions;
  cluster?: ClusterOptions;
  /** replica.* settings of cluster mode. */
  replicaSettings?: Partial<ReplicationSettings>;
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
  /** max.connections; default limits.connectionsMax. */
  connectionsMax?: number;
  /** Partitions this broker may hold in all (creates past it are refused); default from vm.max_map_count (resource-budget.ts). */
  maxPartitions?: number;
  /** Sealed segments kept mapped broker-wide (segment-cache.ts); default defaultSegmentCacheSize. */
  segmentCacheSize?: number;
  /** queued.max.request.bytes; default limits.queuedRequestBytesMax. */
  queuedRequestBytesMax?: number;
  /** Request bytes per connection outside the shared budget; default limits.connectionAllowanceBytes. */
  connectionAllowanceBytes?: number;
  /** Default limits.frameReceiveTimeoutMs. */
  frameReceiveTimeoutMs?: number;
  /** fetch.max.bytes; default limits.fetchBytesMax. */
  fetchBytesMax?: number;
  /** group.initial.rebalance.delay.ms: how long a new group waits for more members. */
  groupInitialRebalanceDelayMs: number;
  /**
   * offsets.retention.minutes, in ms: a group with no members for this long is deleted with
   * its committed offsets (default 7 days, Kafka's).
   */
  offsetsRetentionMs?: number;
  /** offsets.retention.check.interval.ms: how often idle groups are looked for (default 10 min). */
  offsetsRetentionCheckIntervalMs?: number;
  /** Delayed delivery's in-memory window and how often it moves (default one hour, one minute). */
  delayedTimer?: TimerSettings;
  /** In a cluster: `__delayed_records`' partitions when first made (default 3). */
  delayedPartitions?: number;
  /** transaction.state.log.num.partitions: __transaction_state's partitions when first made (default 5). */
  txnStatePartitions?: number;
  /** transaction.max.timeout.ms: the longest transaction timeout a producer may ask for (default 15 min). */
  txnMaxTimeoutMs?: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms: how often timed-out transactions are looked for (default 10 s). */
  txnCleanupIntervalMs?: number;
  /** transactional.id.expiration.ms: an id unused this long is forgotten (default 7 days). */
  txnIdExpirationMs?: number;
  logger: Logger;
  /** This broker's node id (default 0, the single-node default). */
  nodeId?: number;
  /**
   * Replicated mode: partitions take roles from the states given to `broker.replicas`
   * (ReplicaManager.applyPartitionState) instead of each leading itself.
   */
  replication?: {
    writer: PartitionStateWriter;
    brokerEpoch: () => number;
    settings?: Partial<ReplicationSettings>;
    /** Local address of connections to leaders (fault tests). */
    localAddress?: string;
  };
}

export class Broker {
  readonly options: BrokerOptions;
  readonly topics: TopicManager;
  readonly metrics: BrokerMetrics;
  offsets: OffsetStore | undefined;
  readonly groups: GroupCoordinator;
  /** Set in replicated mode. */
  readonly replicas: ReplicaManager | undefined;
  /** Cluster mode: etcd's view, once connected. */
  metadata: ClusterMetadata | undefined;
  /** In cluster mode connections are refused until the broker is registered and has its metadata. */
  #accepting: boolean;
  readonly #server: net.Server;
  readonly #kafkaServer: net.Server | undefined;
  readonly #connections = new Set<Connection>();
  readonly #handlers: Map<number, ApiHandler>;
  readonly #retention: RetentionTimer;
  readonly #groupExpiry: GroupExpiry;
  transactions: TransactionCoordinator | undefined;
  /** Delayed delivery; set once the logs are open (in a cluster, once it has joined). */
  delayed: DelayedDelivery | undefined;
  share: ShareCoordinator | undefined;
  #txnTimeouts: TxnTimeouts | undefined;
  #delayedLinks: LeaderLinks | undefined;
  readonly #context: BrokerContext;
  readonly #admin;
  readonly #stopping = new StopSignal();
  readonly #requestMemory: RequestMemory;
  #refusedSinceLog = 0;
  #refusalLogTimer: NodeJS.Timeout | undefined;
  #stopped: Promise<void> | undefined;
  /** RLIMIT_NOFILE once raised at start. */
  #fileLimit: { soft: number; hard: number } | undefined;

  constructor(options: BrokerOptions) {
    this.options = options;
    const logger = options.logger;
    this.#accepting = options.cluster === undefined;
    this.topics = new TopicManager(options.dataDirectory, options.logDefaults, (error) => logger.error({ err: error }, 'background storage work failed'), {}, options.cluster !== undefined);
    this.groups = new GroupCoordinator({ initialRebalanceDelayMs: options.groupInitialRebalanceDelayMs });
    this.metrics = new BrokerMetrics(() => this.topics, () => this.offsets);
    this.#groupExpiry = new GroupExpiry(this.groups, () => this.offsets, {
      retentionMs: options.offsetsRetentionMs ?? offsetsRetentionMsDefault,
      checkIntervalMs: options.offsetsRetentionCheckIntervalMs ?? offsetsRetentionCheckIntervalMsDefault,
      logger,
    });
    const handlers: ApiHandler[] = [
      metadataHandler, createTopicsHandler, deleteTopicsHandler, produceHandler, fetchHandler, listOffsetsHandler, offsetsForLeaderEpochHandler,
      offsetCommitHandler, offsetFetchHandler, listGroupsHandler,
      findCoordinatorHandler, joinGroupHandler, syncGroupHandler, heartbeatHandler, leaveGroupHandler, describeGroupsHandler,
      describeClusterHandler, electLeadersHandler, initProducerIdHandler, writeTxnMarkersHandler,
      ...transactionHandlers, ...shareHandlers,
    ];
    handlers.push(apiVersionsHandler(() => handlers, brokerVersion));
    this.#handlers = new Map(handlers.map((handler) => [handler.api, handler]));
    this.#retention = new RetentionTimer(() => this.topics.logs(), options.logDefaults.retentionCheckIntervalMs ?? 5 * 60 * 1000,
      (error, log) => logger.error({ err: error, log: log.directory }, 'retention failed'));
    const single = new SingleBroker(this.topics, () => ({
      nodeId: this.#context.settings.nodeId, host: this.#context.settings.advertisedHost, port: this.#context.settings.advertisedPort,
    }), () => {
      const kafka = this.#context.settings.kafkaAdvertised;
      return kafka === undefined ? undefined : { nodeId: this.#context.settings.nodeId, host: kafka.host, port: kafka.port };
    });
    this.#context = {
      cluster: single,
      topics: this.topics,
      logger,
      metrics: this.metrics,
      offsets: undefined as unknown as OffsetStore,
      transactions: undefined as unknown as TransactionCoordinator,
      groups: this.groups,
      // In a cluster the blocks come from etcd, which the broker reaches only once it has joined.
      producerIds: new ProducerIdAllocator(options.cluster === undefined ? new FileBlockSource(options.dataDirectory) : () => {
        const metadata = this.metadata;
        if (metadata === undefined) throw new SluiceError('SLUICE_ERR_METADATA_STORE', 'not connected to the cluster metadata yet');
        return new EtcdBlockSource(metadata.etcd, metadata.keys.producerIdBlock, metadata.nodeId);
      }),
      stopping: this.#stopping,
      settings: {
        nodeId: options.nodeId ?? 0, advertisedHost: options.advertise?.host ?? options.host, advertisedPort: options.advertise?.port ?? options.port,
        autoCreateTopics: options.autoCreateTopics && options.cluster === undefined,
        defaultPartitions: options.defaultPartitions, fetchBytesMax: options.fetchBytesMax ?? limits.fetchBytesMax,
      },
      topicOrAutoCreate: (name) => {
        const existing = this.topics.find(name);
        if (existing !== undefined || !options.autoCreateTopics) return existing;
        // Not a name to take while its create runs: clients retry until the topic is there, as
        // Kafka's answer LEADER_NOT_AVAILABLE for a topic still being created lets them.
        if (this.topics.isBeingCreated(name)) throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `topic ${name} is being created; retry shortly`);
        checkNotInternal(name, 'auto-create');
        const created = this.topics.create(name, options.defaultPartitions, {});
        logger.info({ topic: name, partitions: options.defaultPartitions }, 'topic auto-created');
        return created;
      },
    };
    const replication = options.replication ?? (options.cluster === undefined ? undefined : {
      brokerEpoch: () => this.metadata?.brokerEpoch ?? -1,
      writer: {
        alterPartition: (proposal) => this.metadata?.alterPartition(proposal)
          ?? Promise.resolve({ kind: 'unavailable' as const, message: 'not connected to etcd yet' }),
      } satisfies PartitionStateWriter,
      settings: options.replicaSettings,
      localAddress: options.cluster.localAddress,
    });
    this.replicas = replication === undefined ? undefined : new ReplicaManager({
      nodeId: options.nodeId ?? 0, brokerEpoch: replication.brokerEpoch, topics: this.topics, writer: replication.writer,
      settings: replication.settings, logger, localAddress: replication.localAddress,
    });
    if (this.replicas !== undefined) this.metrics.watchReplication(this.replicas, () => this.metadata?.isController ?? false);
    this.#requestMemory = new RequestMemory(options.queuedRequestBytesMax ?? limits.queuedRequestBytesMax);
    this.metrics.watchRequestMemory(this.#requestMemory);
    this.#server = net.createServer((socket) => this.#accept(socket, 'native'));
    this.#server.maxConnections = options.connectionsMax ?? limits.connectionsMax;
    this.#server.on('drop', (peer) => this.#refused(peer, this.#server));
    if (options.kafka !== undefined) {
      const kafkaServer = net.createServer((socket) => this.#accept(socket, 'kafka'));
      kafkaServer.maxConnections = options.connectionsMax ?? limits.connectionsMax;
      kafkaServer.on('drop', (peer) => this.#refused(peer, kafkaServer));
      this.#kafkaServer = kafkaServer;
    }
    this.#admin = options.httpPort >= 0 ? createAdminServer(this.topics, this.metrics, () => this.offsets, () => this.groups, () => this.#debugState(), {
      cluster: () => this.#context.cluster, replication: () => this.replicas?.counts(), transactions: () => this.transactions, share: () => this.share,
      resources: () => brokerResources(this.topics, this.#fileLimit),
    }) : undefined;
    this.metrics.watchResources(() => brokerResources(this.topics, this.#fileLimit));
  }

  /** Every partition recovers after a crash (the start's summary counts them); worth a line each is what recovery had to repair. */
  #reportLoad(topic: string, partition: number, report: LoadReport): void {
    if (!report.clean && (report.segmentsDropped > 0 || report.indexesRebuilt > 0)) {
      this.options.logger.warn({ topic, partition, ...report }, 'recovered partition after an unclean stop');
    } else if (report.indexesRebuilt > 0) this.options.logger.warn({ topic, partition, ...report }, 'rebuilt partition indexes that failed validation');
  }

  /** Opens the logs (recovering them if needed) and starts listening; returns the bound ports (kafkaPort −1 without a Kafka listener). */
  async start(): Promise<{ port: number; httpPort: number; kafkaPort: number }> {
    const started = Date.now();
    const cluster = this.options.cluster;
    if (cluster === undefined) {
      const store = new TopicStore(this.options.dataDirectory);
      try {
        repairOffsetsTopicRecord(store, this.options.logger);
      } finally {
        store.close();
      }
    }
    const fileLimit = raiseFileLimit();
    this.#fileLimit = { soft: fileLimit.soft, hard: fileLimit.hard };
    this.options.logger.info({ softBefore: fileLimit.before, soft: fileLimit.soft, hard: fileLimit.hard }, 'open file limit (RLIMIT_NOFILE) raised to the hard limit');
    segmentCache.resize(this.options.segmentCacheSize ?? defaultSegmentCacheSize);
    this.topics.partitionBudget = this.options.maxPartitions === undefined
      ? defaultPartitionBudget()
      : { max: this.options.maxPartitions, source: '--max-partitions' };
    const opened = this.topics.open({ lazy: true });
    this.options.logger.info({
      partitions: opened.partitions, opened: opened.opened, deferred: opened.deferred, toRecover: opened.toRecover.length, creationsUndone: opened.creationsUndone,
      ms: opened.ms, partitionBudget: this.topics.partitionBudget.max,
    }, 'partitions opened');
    if (cluster === undefined) {
      this.#context.offsets = new OffsetStore(this.topics, { coordinator: this.groups, logger: this.options.logger });
      this.offsets = this.#context.offsets;
      this.#startShare();
      this.#startTransactions(new LocalTxnStatePartitions(this.topics, this.options.txnStatePartitions ?? txnStatePartitionsDefault));
      this.#startDelayed(new LocalTimerIo(this.topics));
    }
    // Opened later, on first use or by the background recovery: what their opening repaired is logged then.
    this.topics.onLazyOpen = (topic, partition, report) => this.#reportLoad(topic, partition, report);
    for (const topic of this.topics.topics()) {
      for (const partition of topic.partitions) {
        const report = partition.openedLog?.loadReport;
        if (report !== undefined) this.#reportLoad(topic.record.name, partition.index, report);
      }
    }
    this.#retention.start();
    this.#groupExpiry.start();
    this.replicas?.start();
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.port, this.options.host, () => resolve());
    });
    const port = (this.#server.address() as net.AddressInfo).port;
    this.#context.settings.advertisedPort = this.options.advertise?.port ?? port;
    let kafkaPort = -1;
    const kafka = this.options.kafka;
    if (this.#kafkaServer !== undefined && kafka !== undefined) {
      const kafkaServer = this.#kafkaServer;
      await new Promise<void>((resolve, reject) => {
        kafkaServer.once('error', (error: NodeJS.ErrnoException) => reject(new SluiceError('SLUICE_ERR_CONFIG',
          `cannot listen for Kafka clients on ${kafka.host}:${kafka.port} (${error.code ?? error.message}); give each broker on this host its own --kafka-listen HOST:PORT, or --kafka-listen off`, { cause: error })));
        kafkaServer.listen(kafka.port, kafka.host, () => resolve());
      });
      kafkaPort = (kafkaServer.address() as net.AddressInfo).port;
      this.#context.settings.kafkaAdvertised = kafka.advertise ?? { host: kafka.host, port: kafkaPort };
    }
    let httpPort = -1;
    if (this.#admin !== undefined) {
      await this.#admin.listen({ host: this.options.httpHost, port: this.options.httpPort });
      httpPort = (this.#admin.server.address() as net.AddressInfo).port;
    }
    if (cluster !== undefined) await this.#joinCluster(cluster);
    const recovered = opened.toRecover.length === 0 ? Promise.resolve()
      : this.topics.recoverInBackground(opened.toRecover).then((result) => this.options.logger.info(result, 'partitions left unclean by the last stop recovered'));
    // Retention and compaction reach open logs only: the partitions nobody has used yet open in
    // the background too (clean ones just trust their files), a slice at a time, after recovery.
    void recovered.then(() => this.topics.recoverInBackground(this.topics.unopened()))
      .then((result) => this.options.logger.info(result, 'partitions not used since the start opened in the background, for retention'));
    this.options.logger.info({
      host: this.options.host, port, httpPort, kafkaPort, dataDirectory: this.options.dataDirectory, topics: this.topics.topics().length, startMs: Date.now() - started,
    }, 'broker ready');
    return { port, httpPort, kafkaPort };
  }

  /**
   * Registers in etcd (the advertised port is known only now that the listener is bound), loads
   * the cluster's metadata and takes up this broker's replicas; connections are accepted from then on.
   */
  async #joinCluster(cluster: ClusterOptions): Promise<void> {
    const settings = this.#context.settings;
    const logger = this.options.logger;
    // Loaded here, not at the top: etcd3 and gRPC take about a second to load, which a single broker never needs.
    const { ClusterMetadata } = await import('./cluster/cluster-metadata.js');
    const metadata = await ClusterMetadata.connect({
      endpoints: cluster.endpoints,
      clusterName: cluster.name,
      self: { nodeId: settings.nodeId, host: settings.advertisedHost, port: settings.advertisedPort, rack: cluster.rack, kafka: settings.kafkaAdvertised },
      sessionTimeoutMs: cluster.sessionTimeoutMs,
      logger,
      controller: {
        autoLeaderRebalance: cluster.autoLeaderRebalance,
        leaderImbalanceCheckIntervalMs: cluster.leaderImbalanceCheckIntervalMs,
        defaultReplicationFactor: cluster.defaultReplicationFactor,
        minInsyncReplicas: cluster.minInsyncReplicas,
      },
    });
    this.metadata = metadata;
    const node = new ClusterNode({
      metadata, topics: this.topics, replicas: this.replicas!, logger,
      offsetsTopicPartitions: cluster.offsetsTopicPartitions, offsetsTopicReplicationFactor: cluster.offsetsTopicReplicationFactor,
      txnStatePartitions: this.options.txnStatePartitions ?? txnStatePartitionsDefault,
      delayedPartitions: this.options.delayedPartitions ?? delayedClusterPartitionsDefault,
      uncleanLeaderElection: cluster.uncleanLeaderElection,
    });
    this.#context.cluster = node;
    this.#context.offsets = new OffsetStore(this.topics, { partitions: node.offsets, coordinator: this.groups, logger });
    this.offsets = this.#context.offsets;
    this.#startShare();
    this.#startTransactions(node.transactionState);
    const links = new LeaderLinks(() => this.#context);
    this.#delayedLinks = links;
    this.#startDelayed(new ClusterTimerIo(() => this.#context, links, new BrokerPartitionSource(() => this.#context, links)), { partitions: node.delayedTimers, links });
    node.start();
    this.#accepting = true;
    logger.info({ nodeId: settings.nodeId, brokerEpoch: metadata.brokerEpoch, controllerId: metadata.controllerId, brokers: metadata.brokers.size }, 'joined the cluster');
  }

  /** Delayed delivery over the timer log: every partition here on a single broker, the led ones in a cluster. */
  #startDelayed(io: TimerIo, cluster?: DelayedDeliveryOptions['cluster']): void {
    this.delayed = new DelayedDelivery({ topics: this.topics, io, logger: this.options.logger, settings: this.options.delayedTimer, registry: this.metrics.registry, cluster });
    this.#context.delayed = this.delayed;
    // Not awaited: the broker serves while timer partitions recover (each fires once it has).
    void this.delayed.start();
  }

  /** Share groups, coordinated with the classic groups of the same `__consumer_offsets` partitions. */
  #startShare(): void {
    this.share = startShareCoordinator(this.#context, this.options.logger);
    this.#context.share = this.share;
    this.metrics.watchShare(() => this.share?.figures());
  }

  /** The transaction coordinator over `__transaction_state`'s partitions (this broker's, or the cluster's). */
  #startTransactions(partitions: OffsetsTopicPartitions): void {
    const logger = this.options.logger;
    let coordinator: TransactionCoordinator | undefined;
    const store = new TxnStateStore(partitions, { logger, onLoaded: (shard) => coordinator?.resume(shard) });
    coordinator = new TransactionCoordinator({
      store,
      markers: new MarkerSender(() => this.#context, logger),
      allocateProducerId: () => this.#context.producerIds.allocate(),
      maxTimeoutMs: this.options.txnMaxTimeoutMs ?? txnMaxTimeoutMsDefault,
      logger,
    });
    this.transactions = coordinator;
    this.#context.transactions = coordinator;
    this.metrics.watchTransactions(() => {
      const current = this.transactions;
      return current === undefined ? undefined : { byState: current.countsByState(), ...current.counters };
    });
    store.start();
    this.#txnTimeouts = new TxnTimeouts(coordinator, {
      intervalMs: this.options.txnCleanupIntervalMs ?? txnCleanupIntervalMsDefault,
      expirationMs: this.options.txnIdExpirationMs ?? txnIdExpirationMsDefault,
    });
    this.#txnTimeouts.start();
  }

  #accept(socket: net.Socket, protocol: 'native' | 'kafka'): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    if (this.#stopped !== undefined) {
      socket.destroy();
      return;
    }
    const frames = protocol === 'kafka' ? new KafkaProtocol(this.#context) : new NativeProtocol(this.#handlers, this.#context);
    const connection = new Connection(socket, frames, this.#context, {
      frameBytesMax: this.options.frameBytesMax,
      inflightRequestsMax: limits.inflightRequestsMax,
      idleTimeoutMs: this.options.idleTimeoutMs,
      allowanceBytes: this.options.connectionAllowanceBytes ?? limits.connectionAllowanceBytes,
      frameReceiveTimeoutMs: this.options.frameReceiveTimeoutMs ?? limits.frameReceiveTimeoutMs,
      memory: this.#requestMemory,
    });
    this.#connections.add(connection);
    this.metrics.connectionOpened();
    socket.once('close', () => {
      this.#connections.delete(connection);
      this.metrics.connectionClosed();
    });
  }

  /** A connection past max.connections, already closed by the server; logged at most once a second. */
  #refused(peer: net.DropArgument | undefined, server: net.Server): void {
    this.metrics.connectionRefused();
    this.#refusedSinceLog += 1;
    if (this.#refusalLogTimer !== undefined) return;
    this.options.logger.warn({ remote: `${peer?.remoteAddress}:${peer?.remotePort}`, local: `${peer?.localAddress}:${peer?.localPort}`, refused: this.#refusedSinceLog, connectionsMax: server.maxConnections }, 'refused a connection: max.connections reached');
    this.#refusedSinceLog = 0;
    this.#refusalLogTimer = setTimeout(() => {
      this.#refusalLogTimer = undefined;
      if (this.#refusedSinceLog > 0) this.options.logger.warn({ refused: this.#refusedSinceLog, connectionsMax: server.maxConnections }, 'refused more connections: max.connections reached');
      this.#refusedSinceLog = 0;
    }, 1000).unref();
  }

  /** Shown next to the memory figures on GET /v1/debug/memory. */
  #debugState(): Record<string, unknown> {
    let waitingForMemory = 0;
    for (const connection of this.#connections) if (connection.waitingForMemory) waitingForMemory += 1;
    return {
      connections: this.#connections.size,
      parkedRequests: this.#stopping.waiting,
      requestMemory: { usedBytes: this.#requestMemory.used, capacityBytes: this.#requestMemory.capacity, waitingConnections: waitingForMemory },
    };
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    const logger = this.options.logger;
    logger.info({ connections: this.#connections.size }, 'broker stopping');
    if (this.metadata !== undefined) {
      // Controlled shutdown: leaderships move to other in-sync replicas while this broker still
      // serves, so clients that retry see no error (REPLICATION-FACTS.md §K).
      const handedOver = await this.metadata.controlledShutdown(this.options.cluster?.controlledShutdownTimeoutMs).catch((error: unknown) => {
        logger.warn({ err: error }, 'controlled shutdown failed');
        return false;
      });
      logger.info({ handedOver }, handedOver ? 'leaderships handed over' : 'stopping while still leading partitions (controlled shutdown timed out)');
    }
    this.#stopping.stop();
    // Joins and syncs wait for other members; answer them now instead of waiting out the grace.
    this.groups.close();
    // acks=all produces waiting on followers would otherwise hold the stop until they time out.
    this.replicas?.failWaitingProduces();
    const closed = Promise.all([this.#server, ...(this.#kafkaServer === undefined ? [] : [this.#kafkaServer])]
      .map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, limits.shutdownGraceMs).unref());
    await Promise.race([Promise.all([...this.#connections].map((connection) => connection.idle())), grace]);
    this.#retention.stop();
    this.#groupExpiry.stop();
    this.#txnTimeouts?.stop();
    this.delayed?.close();
    this.#delayedLinks?.close();
    this.share?.close();
    this.transactions?.close();
    this.transactions?.store.close();
    this.offsets?.close();
    await this.replicas?.stop();
    // Dirty pages of every open log written on the thread pool first, so closing them is quick.
    await this.topics.flushOpenLogs();
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
      await this.metadata?.close().catch((error: unknown) => logger.warn({ err: error }, 'leaving etcd failed'));
    }
    logger.info('broker stopped');
  }
}
