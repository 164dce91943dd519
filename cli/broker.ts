/**
 * `sluice broker` (also what `npm start` runs): starts one broker on the embedded default
 * (data in ./data, protocol on 127.0.0.1:9400, admin HTTP on 127.0.0.1:9401) and stops it
 * gracefully on SIGTERM or SIGINT. A new flag is one `.option()` line and one field in
 * `brokerConfig`.
 */
import type { Command } from 'commander';
import { SluiceError } from '../proto/errors.js';
import type { BrokerOptions } from '../broker/broker.js';
import { offsetsRetentionCheckIntervalMsDefault, offsetsRetentionMsDefault } from '../broker/groups/group-expiry.js';
import { limits } from '../broker/limits.js';
import { defaultLogConfig } from '../broker/storage/log-config.js';
import { wholeNumber, withExamples } from './options.js';

export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || match[1] === '' || port > 65535) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `${flag} must be HOST:PORT (port 0 picks a free one), got "${text}"`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

interface BrokerFlags {
  data: string;
  listen: string;
  httpListen: string;
  http: boolean;
  autoCreateTopics?: boolean;
  defaultPartitions: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  retentionCheckIntervalMs: number;
  groupInitialRebalanceDelayMs: number;
  maxConnections: number;
  queuedMaxRequestBytes: number;
  connectionAllowanceBytes: number;
  frameReceiveTimeoutMs: number;
  fetchMaxBytes: number;
  offsetsRetentionMinutes: number;
  offsetsRetentionCheckIntervalMs: number;
  logCleanerDedupeBufferBytes: number;
  logLevel: string;
}

function brokerConfig(flags: BrokerFlags): Omit<BrokerOptions, 'logger'> {
  const listen = parseHostPort(flags.listen, '--listen');
  const http = parseHostPort(flags.httpListen, '--http-listen');
  return {
    dataDirectory: flags.data,
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
    queuedRequestBytesMax: flags.queuedMaxRequestBytes,
    connectionAllowanceBytes: flags.connectionAllowanceBytes,
    frameReceiveTimeoutMs: flags.frameReceiveTimeoutMs,
    fetchBytesMax: flags.fetchMaxBytes,
    offsetsRetentionMs: flags.offsetsRetentionMinutes * 60_000,
    offsetsRetentionCheckIntervalMs: flags.offsetsRetentionCheckIntervalMs,
    logDefaults: { retentionCheckIntervalMs: flags.retentionCheckIntervalMs, cleanerDedupeBufferBytes: flags.logCleanerDedupeBufferBytes },
  };
}

export function brokerCommand(program: Command): void {
  const command = program.command('broker')
    .description('start a broker; SIGTERM or SIGINT stops it gracefully')
    .option('--data <dir>', 'data directory', './data')
    .option('--listen <host:port>', 'protocol listener (port 0 picks a free one)', '127.0.0.1:9400')
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
    .option('--log-cleaner-dedupe-buffer-bytes <n>', 'log.cleaner.dedupe.buffer.size: the compaction offset map (24 bytes a key); more keys are cleaned over several passes', wholeNumber(48), defaultLogConfig.cleanerDedupeBufferBytes)
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
  withExamples(command, 'sluice broker --data /var/lib/sluice --listen 0.0.0.0:9400');
}
