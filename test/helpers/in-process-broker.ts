/**
 * A broker in the test's own process, for settings that have no `sluice broker` flag yet: the
 * real Broker on real sockets (port 0, 127.0.0.1) and a temporary data directory, with its log
 * lines collected so a test can look for them. Prefer startBroker (a child process) whenever
 * the setting can be passed as a flag.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Broker, type BrokerOptions } from '../../broker/broker.js';
import { limits } from '../../broker/limits.js';

export interface InProcessBroker {
  broker: Broker;
  port: number;
  httpPort: number;
  bootstrap: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function startInProcessBroker(overrides: Partial<BrokerOptions> = {}): Promise<InProcessBroker> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-in-process-'));
  const logs: string[] = [];
  const broker = new Broker({
    dataDirectory, host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: 0,
    autoCreateTopics: false, defaultPartitions: 1, logDefaults: {},
    frameBytesMax: limits.frameBytesMax, idleTimeoutMs: limits.idleTimeoutMs, groupInitialRebalanceDelayMs: 0,
    logger: pino({ level: 'info' }, { write: (line: string) => { logs.push(line); } }),
    ...overrides,
  });
  const { port, httpPort } = await broker.start();
  return {
    broker, port, httpPort, bootstrap: `127.0.0.1:${port}`, logs,
    async stop() {
      await broker.stop();
      fs.rmSync(dataDirectory, { recursive: true, force: true });
    },
  };
}
