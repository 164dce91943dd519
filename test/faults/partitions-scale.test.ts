/**
 * Thousands of partitions on one broker process (issue 16): a wide topic is created while
 * another client keeps round-tripping records, without any of its requests stalling; a broker
 * held to 1,024 descriptors creates, serves and restarts with 5,000 partitions and refuses a
 * create past its partition budget with nothing half-made; a kill -9 in the middle of a create
 * leaves, after the restart, the whole topic or none of it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { errorCodes } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

function connect(broker: BrokerProcess): BrokerConnection {
  return new BrokerConnection({ host: '127.0.0.1', port: broker.port, requestTimeoutMs: 90_000 });
}

/** The broker's JSON log line with message `msg`, once it is there. */
async function logLine(broker: BrokerProcess, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const find = () => broker.logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  }).find((line) => line.msg === msg);
  await waitFor(`the broker to log "${msg}"`, () => find() !== undefined, timeoutMs);
  return find()!;
}

async function createTopic(connection: BrokerConnection, name: string, partitions: number) {
  return (await connection.request<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name, partitions, configs: {} }] })).topics[0]!;
}

function batch(count: number, tag: string): Buffer {
  return buildRecordBatch(Array.from({ length: count }, (_, n) => ({ key: null, value: Buffer.from(`${tag}-${n}`), timestamp: Date.now() })));
}

/** Produces one record to each of `partitions` of `topic` in one request; returns the partitions that failed. */
async function produceEach(connection: BrokerConnection, topic: string, partitions: number[]): Promise<number[]> {
  const response = await connection.request<'produce'>(Api.PRODUCE, {
    acks: 1, timeoutMs: 10_000,
    topics: [{ name: topic, partitions: partitions.map((partition) => ({ partition, records: batch(1, `p${partition}`) })) }],
  });
  return response.topics[0]!.partitions.filter((result) => result.errorCode !== 0 || result.baseOffset !== 0).map((result) => result.partition);
}

/** Fetches each partition from offset 0; returns the partitions whose one record is not `p<partition>-0`. */
async function fetchEach(connection: BrokerConnection, topic: string, partitions: number[]): Promise<number[]> {
  const response = await connection.request<'fetch'>(Api.FETCH, {
    maxWaitMs: 0, minBytes: 1, maxBytes: 64 << 20,
    topics: [{ name: topic, partitions: partitions.map((partition) => ({ partition, fetchOffset: 0, maxBytes: 1024 })) }],
  });
  return response.topics[0]!.partitions.filter((result) => {
    const records = result.errorCode === 0 ? decodeRecords(result.records) : [];
    return records.length !== 1 || records[0]!.value?.toString() !== `p${result.partition}-0`;
  }).map((result) => result.partition);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

/** Partition directories of `topic` in the data directory. */
function partitionDirectories(broker: BrokerProcess, topic: string): string[] {
  return fs.readdirSync(broker.dataDirectory).filter((name) => name.startsWith(`${topic}-`));
}

describe('thousands of partitions on one broker', () => {
  afterAll(cleanupBrokers);

  it('creates 2,000 partitions while another client round-trips every 100 ms, none slower than 1 s', async () => {
    const broker = await startBroker();
    const admin = connect(broker);
    const client = connect(broker);
    try {
      expect((await createTopic(admin, 'steady', 1)).errorCode).toBe(0);
      const roundTrips: number[] = [];
      let creating = true;
      const loop = (async () => {
        for (let n = 0; creating && n < 600; n += 1) {
          const started = performance.now();
          const produced = await client.request<'produce'>(Api.PRODUCE, {
            acks: 1, timeoutMs: 5000, topics: [{ name: 'steady', partitions: [{ partition: 0, records: batch(100, `r${n}`) }] }],
          });
          const result = produced.topics[0]!.partitions[0]!;
          expect(result.errorCode).toBe(0);
          const fetched = await client.request<'fetch'>(Api.FETCH, {
            maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ name: 'steady', partitions: [{ partition: 0, fetchOffset: result.baseOffset, maxBytes: 1 << 20 }] }],
          });
          expect(decodeRecords(fetched.topics[0]!.partitions[0]!.records)).toHaveLength(100);
          roundTrips.push(performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      const created = await createTopic(admin, 'wide', 2000);
      creating = false;
      await loop;
      expect(created.errorCode).toBe(0);
      expect(roundTrips.length).toBeGreaterThan(0);
      expect(Math.max(...roundTrips)).toBeLessThan(1000);
      expect(await produceEach(admin, 'wide', [1999])).toEqual([]);
      expect(await fetchEach(admin, 'wide', [1999])).toEqual([]);

      const resources = (await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/broker`)).json()).resources;
      expect(resources.partitions).toMatchObject({ open: 2001, creating: 0, offline: 0 });
      // Partitions hold no descriptors: the process keeps well under one per partition.
      expect(resources.openDescriptors).toBeLessThan(200);
      expect(resources.mappings).toBeLessThanOrEqual(2 * 2001);
    } finally {
      admin.close();
      client.close();
    }
  }, 60_000);

  it.skipIf(!hasPrlimit)('serves and restarts 5,000 partitions within 1,024 descriptors, and refuses a create past its budget', async () => {
    const options = { command: ['prlimit', '--nofile=1024'], args: ['--max-partitions', '5500'], readyTimeoutMs: 30_000 };
    let broker = await startBroker(options);
    let connection = connect(broker);
    const partitions = range(5000);
    try {
      expect((await createTopic(connection, 'many', 5000)).errorCode).toBe(0);
      expect(await produceEach(connection, 'many', partitions)).toEqual([]);
      expect(await fetchEach(connection, 'many', partitions)).toEqual([]);

      const refused = await createTopic(connection, 'toomany', 1000);
      expect(refused.errorCode).toBe(errorCodes.SLUICE_ERR_POLICY_VIOLATION.wire);
      expect(refused.errorMessage).toMatch(/budget of 5500 partitions.*--max-partitions/);
      expect(partitionDirectories(broker, 'toomany')).toEqual([]);
      expect(fs.readdirSync(path.join(broker.dataDirectory, 'topics')).filter((name) => name.startsWith('toomany'))).toEqual([]);
    } finally {
      connection.close();
    }

    // Killed, the harder case: every partition written since the start must be recovered, in
    // the background after the broker is ready (a clean stop would leave them to open lazily).
    await broker.stop('SIGKILL');
    broker = await startBroker({ ...options, dataDirectory: broker.dataDirectory });
    expect(await logLine(broker, 'partitions opened')).toMatchObject({ partitions: 5000, opened: 0, toRecover: 5000 });
    expect(await logLine(broker, 'partitions left unclean by the last stop recovered')).toMatchObject({ recovered: 5000, failed: 0 });
    connection = connect(broker);
    try {
      expect(await fetchEach(connection, 'many', partitions)).toEqual([]);
    } finally {
      connection.close();
    }
  }, 240_000);

  it('after a kill -9 in the middle of a 2,000-partition create, the topic is there whole or not at all', async () => {
    let broker = await startBroker();
    const connection = connect(broker);
    const created = createTopic(connection, 'interrupted', 2000).catch(() => undefined);
    await waitFor('the create to be half-way', () => partitionDirectories(broker, 'interrupted').length >= 500, 20_000);
    await broker.stop('SIGKILL');
    await created;
    connection.close();

    broker = await startBroker({ dataDirectory: broker.dataDirectory });
    const again = connect(broker);
    try {
      const metadata = await again.request<'metadata'>(Api.METADATA, {});
      const topic = metadata.topics.find((candidate) => candidate.name === 'interrupted');
      const directories = partitionDirectories(broker, 'interrupted');
      if (topic === undefined) {
        expect(directories).toEqual([]);
      } else {
        expect(topic.partitions).toHaveLength(2000);
        expect(directories).toHaveLength(2000);
      }
      expect(fs.readdirSync(path.join(broker.dataDirectory, 'topics')).filter((name) => name.endsWith('.creating'))).toEqual([]);
      expect(fs.readdirSync(broker.dataDirectory).filter((name) => name.endsWith('-delete'))).toEqual([]);
      // The name is free again (or the topic whole): a create of it answers either way.
      const recreated = await createTopic(again, 'interrupted', 10);
      expect([0, errorCodes.SLUICE_ERR_TOPIC_ALREADY_EXISTS.wire]).toContain(recreated.errorCode);
    } finally {
      again.close();
    }
  }, 60_000);
});
