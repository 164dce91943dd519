/**
 * `sluice broker` (also what `npm start` runs): starts one broker on the embedded default
 * (data in ./data, protocol on 127.0.0.1:9400, Kafka protocol on 127.0.0.1:9092, admin HTTP on
 * 127.0.0.1:9401) and stops it
 * gracefully on SIGTERM or SIGINT. A new flag is one `.option()` line and one field in
 * `brokerConfig`.
 */
import net from 'node:net';
import type { Command } from 'commander';
import { SluiceError } from '../proto/errors.js';
import type { BrokerOptions, ClusterOptions, KafkaListenerOptions } from '../broker/broker.js';
import { defaultReplicationSettings as replicationDefaults } from '../broker/replication/replication-settings.js';
import { offsetsRetentionCheckIntervalMsDefault, offsetsRetentionMsDefault } from '../broker/groups/group-expiry.js';
import { txnMaxTimeoutMsDefault } from '../broker/transactions/coordinator.js';
import { txnStatePartitionsDefault } from '../broker/transactions/txn-topic.js';
import { timerSettingsDefault } from '../broker/delayed/timer-settings.js';
import { delayedClusterPartitionsDefault } from '../broker/delayed/delayed-topic.js';
import { txnCleanupIntervalMsDefault, txnIdExpirationMsDefault } from '../broker/transactions/txn-timeouts.js';
import { limits } from '../broker/limits.js';
import { defaultLogConfig } from '../broker/storage/log-config.js';
import { defaultSegmentCacheSize } from '../broker/storage/segment-cache.js';
import { wholeNumber, withExamples } from './options.js';

export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || match[1] === '' || port > 65535) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `${flag} must be HOST:PORT (port 0 picks a free one), got "${text}"`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** An IP address this machine has, for the source of outgoing connections (no port, no name). */
export function parseLocalAddress(text: string): string {
  const address = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(address) === 0) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `--local-address must be an IP address of this machine (no port), got "${text}"`);
  }
  return address;
}

/** `etcd://h1:p1,h2:p2` (each part may repeat the scheme) → etcd client URLs. */
export function parseClusterEndpoints(text: string): string[] {
  const parts = text.replace(/^etcd:\/\//, '').split(',').map((part) => part.trim().replace(/^etcd:\/\//, '')).filter((part) => part !== '');
  if (!text.startsWith('etcd://') || parts.length === 0) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `--cluster must be etcd://HOST:PORT[,HOST:PORT...], got "${text}"`);
  }
  return parts.map((part) => {
    const { host, port } = parseHostPort(part, '--cluster');
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  });
}

interface BrokerFlags {
  data: string;
  delayedDeliveryWindowMs: number;
  delayedDeliveryRefillMs: number;
  delayedDeliveryPartitions: number;
  nodeId: number;
  cluster?: string;
  clusterName: string;
  advertise?: string;
  localAddress?: string;
  rack?: string;
  brokerSessionTimeoutMs: number;
  defaultReplicationFactor: number;
  minInsyncReplicas?: number;
  uncleanLeaderElection?: boolean;
  autoLeaderRebalance: boolean;
  leaderImbalanceCheckIntervalMs: number;
  offsetsTopicNumPartitions: number;
  offsetsTopicReplicationFactor: number;
  controlledShutdownTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  replicaFetchWaitMaxMs: number;
  replicaFetchMaxBytes: number;
  replicaFetchBackoffMs: number;
  listen: string;
  kafkaListen: string;
  kafkaAdvertise?: string;
  httpListen: string;
  http: boolean;
  autoCreateTopics?: boolean;
  defaultPartitions: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  retentionCheckIntervalMs: number;
  producerIdExpirationMs: number;
  maxProducerIdsPerPartition: number;
  maxPartitions?: number;
  segmentCacheSize: number;
  groupInitialRebalanceDelayMs: number;
  maxConnections: number;
  queuedMaxRequestBytes: number;
  connectionAllowanceBytes: number;
  frameReceiveTimeoutMs: number;
  fetchMaxBytes: number;
  offsetsRetentionMinutes: number;
  offsetsRetentionCheckIntervalMs: number;
  transactionStateLogNumPartitions: number;
  transactionMaxTimeoutMs: number;
  transactionAbortTimedOutTransactionCleanupIntervalMs: number;
  transactionalIdExpirationMs: number;
  logCleanerDedupeBufferBytes: number;
  logLevel: string;
}

/** `--kafka-listen HOST:PORT` (or `off`) and `--kafka-advertise HOST:PORT` → the Kafka listener, or none. */
export function kafkaListener(listen: string, advertise: string | undefined): KafkaListenerOptions | undefined {
  if (listen.trim().toLowerCase() === 'off') {
    if (advertise !== undefined) throw new SluiceError('SLUICE_ERR_CONFIG', '--kafka-advertise needs a Kafka listener; drop it or --kafka-listen off');
    return undefined;
  }
  const { host, port } = parseHostPort(listen, '--kafka-listen');
  return { host, port, ...(advertise === undefined ? {} : { advertise: parseHostPort(advertise, '--kafka-advertise') }) };
}

function brokerConfig(flags: BrokerFlags): Omit<BrokerOptions, 'logger'> {
  const listen = parseHostPort(flags.listen, '--listen');
  const kafka = kafkaListener(flags.kafkaListen, flags.kafkaAdvertise);
  const http = parseHostPort(flags.httpListen, '--http-listen');
  const cluster: ClusterOptions | undefined = flags.cluster === undefined ? undefined : {
    endpoints: parseClusterEndpoints(flags.cluster),
    name: flags.clusterName,
    sessionTimeoutMs: flags.brokerSessionTimeoutMs,
    rack: flags.rack,
    defaultReplicationFactor: flags.defaultReplicationFactor,
    autoLeaderRebalance: flags.autoLeaderRebalance,
    leaderImbalanceCheckIntervalMs: flags.leaderImbalanceCheckIntervalMs,
    offsetsTopicPartitions: flags.offsetsTopicNumPartitions,
    offsetsTopicReplicationFactor: flags.offsetsTopicReplicationFactor,
    minInsyncReplicas: flags.minInsyncReplicas ?? 1,
    uncleanLeaderElection: flags.uncleanLeaderElection === true,
    controlledShutdownTimeoutMs: flags.controlledShutdownTimeoutMs,
    localAddress: flags.localAddress === undefined ? undefined : parseLocalAddress(flags.localAddress),
  };
  if (cluster === undefined && (flags.nodeId !== 0 || flags.defaultReplicationFactor !== 1 || flags.localAddress !== undefined)) {
    throw new SluiceError('SLUICE_ERR_CONFIG', '--node-id, --default-replication-factor and --local-address need --cluster etcd://HOST:PORT (a broker without --cluster runs alone as node 0)');
  }
  return {
    dataDirectory: flags.data,
    nodeId: flags.nodeId,
    advertise: flags.advertise === undefined ? undefined : parseHostPort(flags.advertise, '--advertise'),
    ...(kafka === undefined ? {} : { kafka }),
    cluster,
    replicaSettings: {
      replicaLagTimeMaxMs: flags.replicaLagTimeMaxMs,
      replicaFetchWaitMaxMs: flags.replicaFetchWaitMaxMs,
      replicaFetchMaxBytes: flags.replicaFetchMaxBytes,
      replicaFetchBackoffMs: flags.replicaFetchBackoffMs,
    },
    host: listen.host,
    port: listen.port,
    httpHost: http.host,
    httpPort: flags.http ? http.port : -1,
    autoCreateTopics: flags.autoCreateTopics === true,
    defaultPartitions: flags.defaultPartitions,
    frameBytesMax: flags.maxFrameBytes,
    idleTimeoutMs: flags.idleTimeoutMs,
    groupInitialRebalanceDelayMs: flags.groupInitialRebalanceDelayMs,
    connectionsMax: flags.maxConnections,
    ...(flags.maxPartitions === undefined ? {} : { maxPartitions: flags.maxPartitions }),
    segmentCacheSize: flags.segmentCacheSize,
    queuedRequestBytesMax: flags.queuedMaxRequestBytes,
    connectionAllowanceBytes: flags.connectionAllowanceBytes,
    frameReceiveTimeoutMs: flags.frameReceiveTimeoutMs,
    fetchBytesMax: flags.fetchMaxBytes,
    offsetsRetentionMs: flags.offsetsRetentionMinutes * 60_000,
    offsetsRetentionCheckIntervalMs: flags.offsetsRetentionCheckIntervalMs,
    txnStatePartitions: flags.transactionStateLogNumPartitions,
    txnMaxTimeoutMs: flags.transactionMaxTimeoutMs,
    txnCleanupIntervalMs: flags.transactionAbortTimedOutTransactionCleanupIntervalMs,
    txnIdExpirationMs: flags.transactionalIdExpirationMs,
    delayedTimer: { windowMs: flags.delayedDeliveryWindowMs, refillEveryMs: flags.delayedDeliveryRefillMs },
    delayedPartitions: flags.delayedDeliveryPartitions,
    logDefaults: {
      retentionCheckIntervalMs: flags.retentionCheckIntervalMs,
      cleanerDedupeBufferBytes: flags.logCleanerDedupeBufferBytes,
      producerIdExpirationMs: flags.producerIdExpirationMs,
      maxProducerIdsPerPartition: flags.maxProducerIdsPerPartition,
      ...(flags.minInsyncReplicas === undefined ? {} : { minInsyncReplicas: flags.minInsyncReplicas }),
      ...(flags.uncleanLeaderElection === true ? { uncleanLeaderElectionEnable: true } : {}),
    },
  };
}

export function brokerCommand(program: Command): void {
  const command = program.command('broker')
    .description('start a broker; SIGTERM or SIGINT stops it gracefully')
    .option('--data <dir>', 'data directory', './data')
    .option('--node-id <n>', 'node.id: this broker\'s id in its cluster (needs --cluster)', wholeNumber(0), 0)
    .option('--cluster <etcd://host:port,...>', 'join the cluster whose metadata lives in this etcd (without it the broker runs alone)')
    .option('--cluster-name <name>', 'the cluster\'s key prefix in etcd, so clusters can share one etcd', 'sluice')
    .option('--advertise <host:port>', 'the address metadata gives clients and other brokers for this broker (default: the listen address)')
    .option('--local-address <ip>', 'source address of this broker\'s connections to other brokers (replica fetches); default: the OS picks')
    .option('--rack <id>', 'broker.rack: replicas of a partition are spread over racks')
    .option('--broker-session-timeout-ms <n>', 'broker.session.timeout.ms: a broker silent this long is dead and loses its leaderships (whole seconds in etcd)', wholeNumber(1000), 9000)
    .option('--default-replication-factor <n>', 'default.replication.factor for topics created without one', wholeNumber(1), 1)
    .option('--min-insync-replicas <n>', 'min.insync.replicas default: acks=all needs this many in-sync replicas', wholeNumber(1))
    .option('--unclean-leader-election', 'unclean.leader.election.enable default: let an out-of-sync replica lead when no in-sync one is alive (loses acknowledged records)')
    .option('--no-auto-leader-rebalance', 'auto.leader.rebalance.enable=false: leadership does not move back to preferred replicas by itself')
    .option('--leader-imbalance-check-interval-ms <n>', 'how often leadership is moved back to preferred replicas', wholeNumber(1), 300_000)
    .option('--offsets-topic-num-partitions <n>', 'offsets.topic.num.partitions: __consumer_offsets partitions when a cluster first creates it', wholeNumber(1), 50)
    .option('--offsets-topic-replication-factor <n>', 'offsets.topic.replication.factor: __consumer_offsets is created once this many brokers are alive', wholeNumber(1), 3)
    .option('--controlled-shutdown-timeout-ms <n>', 'how long a stopping broker waits for its leaderships to move to other replicas', wholeNumber(0), 30_000)
    .option('--replica-lag-time-max-ms <n>', 'replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR', wholeNumber(1), replicationDefaults.replicaLagTimeMaxMs)
    .option('--replica-fetch-wait-max-ms <n>', 'replica.fetch.wait.max.ms: how long a follower\'s fetch waits for new records', wholeNumber(1), replicationDefaults.replicaFetchWaitMaxMs)
    .option('--replica-fetch-max-bytes <n>', 'replica.fetch.max.bytes per partition of a follower fetch', wholeNumber(1), replicationDefaults.replicaFetchMaxBytes)
    .option('--replica-fetch-backoff-ms <n>', 'replica.fetch.backoff.ms: a follower\'s pause after a failed fetch', wholeNumber(1), replicationDefaults.replicaFetchBackoffMs)
    .option('--listen <host:port>', 'protocol listener (port 0 picks a free one)', '127.0.0.1:9400')
    .option('--kafka-listen <host:port|off>', 'Kafka protocol listener for unchanged Kafka clients (port 0 picks a free one; off: none)', '127.0.0.1:9092')
    .option('--kafka-advertise <host:port>', 'the address Kafka metadata gives clients for this broker (default: the Kafka listen address)')
    .option('--http-listen <host:port>', 'admin HTTP listener (/v1, /metrics)', '127.0.0.1:9401')
    .option('--no-http', 'no admin HTTP listener')
    .option('--auto-create-topics', 'create unknown topics on first metadata request')
    .option('--default-partitions <n>', 'partitions of an auto-created topic', wholeNumber(1), 1)
    .option('--max-frame-bytes <n>', 'largest request frame accepted', wholeNumber(1), limits.frameBytesMax)
    .option('--idle-timeout-ms <n>', 'close a connection idle this long', wholeNumber(1), limits.idleTimeoutMs)
    .option('--retention-check-interval-ms <n>', 'how often retention and compaction run', wholeNumber(1), 5 * 60 * 1000)
    .option('--group-initial-rebalance-delay-ms <n>', 'how long a new group waits for more members before its first assignment', wholeNumber(1), 3000)
    .option('--max-connections <n>', 'max.connections: connections past this are closed on arrival', wholeNumber(1), limits.connectionsMax)
    .option('--queued-max-request-bytes <n>', 'queued.max.request.bytes: request memory shared by all connections; reading pauses when it is used up', wholeNumber(1), limits.queuedRequestBytesMax)
    .option('--connection-allowance-bytes <n>', 'request bytes each connection may hold outside the shared memory, so small requests always get through', wholeNumber(0), limits.connectionAllowanceBytes)
    .option('--frame-receive-timeout-ms <n>', 'a request frame must arrive whole this long after it got memory, else the connection is closed', wholeNumber(1), limits.frameReceiveTimeoutMs)
    .option('--fetch-max-bytes <n>', 'fetch.max.bytes: the most a fetch response carries, whatever the client asks (its first batch always goes whole)', wholeNumber(1), limits.fetchBytesMax)
    .option('--offsets-retention-minutes <n>', 'offsets.retention.minutes: a group Empty this long is removed with its committed offsets', wholeNumber(1), offsetsRetentionMsDefault / 60_000)
    .option('--offsets-retention-check-interval-ms <n>', 'how often expired groups are looked for', wholeNumber(1), offsetsRetentionCheckIntervalMsDefault)
    .option('--transaction-state-log-num-partitions <n>', 'transaction.state.log.num.partitions: __transaction_state\'s partitions when it is first made', wholeNumber(1), txnStatePartitionsDefault)
    .option('--transaction-max-timeout-ms <n>', 'transaction.max.timeout.ms: the longest transaction timeout a producer may ask for', wholeNumber(1), txnMaxTimeoutMsDefault)
    .option('--transaction-abort-timed-out-transaction-cleanup-interval-ms <n>', 'how often transactions open longer than their timeout are looked for and aborted', wholeNumber(1), txnCleanupIntervalMsDefault)
    .option('--transactional-id-expiration-ms <n>', 'transactional.id.expiration.ms: a transactional id unused this long is forgotten', wholeNumber(1), txnIdExpirationMsDefault)
    .option('--log-cleaner-dedupe-buffer-bytes <n>', 'log.cleaner.dedupe.buffer.size: the compaction offset map (24 bytes a key); more keys are cleaned over several passes', wholeNumber(48), defaultLogConfig.cleanerDedupeBufferBytes)
    .option('--producer-id-expiration-ms <n>', 'producer.id.expiration.ms: a partition forgets a producer id idle this long with no open transaction (checked with retention)', wholeNumber(1), defaultLogConfig.producerIdExpirationMs)
    .option('--max-producer-ids-per-partition <n>', 'producer ids a partition keeps at most (as Redpanda\'s max_concurrent_producer_ids); past it the least recently active one with no open transaction is forgotten, so clients minting ids cannot exhaust memory', wholeNumber(1), defaultLogConfig.maxProducerIdsPerPartition)
    .option('--max-partitions <n>', 'partitions this broker may hold in all; a create past it is refused (default: a sixth of vm.max_map_count, each partition mapping up to 3 files)', wholeNumber(1))
    .option('--delayed-delivery-window-ms <n>', 'delayed records due within this much of now are indexed in memory; later ones stay in the timer log until the window reaches them', wholeNumber(1), timerSettingsDefault.windowMs)
    .option('--delayed-delivery-refill-ms <n>', 'how often the delayed-delivery window is checked; it moves on by half a window at a time, and the timer log\'s fired checkpoint with it', wholeNumber(1), timerSettingsDefault.refillEveryMs)
    .option('--delayed-delivery-partitions <n>', 'in a cluster: __delayed_records\' partitions when it is first made; each is fired by its leader, so more spread the firing over more brokers', wholeNumber(1), delayedClusterPartitionsDefault)
    .option('--segment-cache-size <n>', 'sealed segments kept mapped in all (their .log and indexes, 3 mappings each), least recently read unmapped first and mapped again on their next read; the active segments are always mapped', wholeNumber(1), defaultSegmentCacheSize)
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace', 'info')
    .action(async (flags: BrokerFlags) => {
      const config = brokerConfig(flags);
      const [{ default: pino }, { Broker }] = await Promise.all([import('pino'), import('../broker/broker.js')]);
      const logger = pino({ level: flags.logLevel, base: { service: 'sluice-broker', pid: process.pid } });
      const broker = new Broker({ ...config, logger });
      const stop = (signal: string) => {
        logger.info({ signal }, 'stop requested');
        broker.stop().then(() => process.exit(0), (error: unknown) => {
          logger.fatal({ err: error }, 'unclean stop');
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      await broker.start();
    });
  withExamples(command, 'sluice broker --data /var/lib/sluice --listen 0.0.0.0:9400 --kafka-listen 0.0.0.0:9092 --kafka-advertise kafka.example.com:9092',
    'sluice broker --node-id 1 --cluster etcd://127.0.0.1:2379 --data ./data-1 --listen 127.0.0.1:9410 --kafka-listen 127.0.0.1:9412 --http-listen 127.0.0.1:9411');
}
