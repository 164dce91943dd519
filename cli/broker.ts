/**
 * `sluice broker` (also what `npm start` runs): starts one broker on the embedded default
 * (data in ./data, protocol on 127.0.0.1:9400, admin HTTP on 127.0.0.1:9401) and stops it
 * gracefully on SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { SluiceError } from '../proto/errors.js';
import { Broker } from '../broker/broker.js';
import { limits } from '../broker/limits.js';

const usage = `usage: sluice broker [--data DIR] [--listen HOST:PORT] [--http-listen HOST:PORT]
                     [--auto-create-topics] [--default-partitions N] [--max-frame-bytes N]
                     [--idle-timeout-ms N] [--retention-check-interval-ms N]
                     [--group-initial-rebalance-delay-ms N] [--log-level LEVEL]`;

export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || match[1] === '' || port > 65535) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `${flag} must be HOST:PORT (port 0 picks a free one), got "${text}"`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

function positiveInteger(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new SluiceError('SLUICE_ERR_CONFIG', `${flag} must be a positive integer, got "${text}"`);
  return value;
}

export async function runBroker(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: './data' },
      listen: { type: 'string', default: '127.0.0.1:9400' },
      'http-listen': { type: 'string', default: '127.0.0.1:9401' },
      'no-http': { type: 'boolean', default: false },
      'auto-create-topics': { type: 'boolean', default: false },
      'default-partitions': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'retention-check-interval-ms': { type: 'string' },
      'group-initial-rebalance-delay-ms': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const logger = pino({ level: values['log-level'], base: { service: 'sluice-broker', pid: process.pid } });
  const listen = parseHostPort(values.listen, '--listen');
  const http = parseHostPort(values['http-listen'], '--http-listen');
  const broker = new Broker({
    dataDirectory: values.data,
    host: listen.host,
    port: listen.port,
    httpHost: http.host,
    httpPort: values['no-http'] ? -1 : http.port,
    autoCreateTopics: values['auto-create-topics'],
    defaultPartitions: positiveInteger(values['default-partitions'], '--default-partitions', 1),
    frameBytesMax: positiveInteger(values['max-frame-bytes'], '--max-frame-bytes', limits.frameBytesMax),
    idleTimeoutMs: positiveInteger(values['idle-timeout-ms'], '--idle-timeout-ms', limits.idleTimeoutMs),
    groupInitialRebalanceDelayMs: positiveInteger(values['group-initial-rebalance-delay-ms'], '--group-initial-rebalance-delay-ms', 3000),
    logDefaults: { retentionCheckIntervalMs: positiveInteger(values['retention-check-interval-ms'], '--retention-check-interval-ms', 5 * 60 * 1000) },
    logger,
  });
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
}

