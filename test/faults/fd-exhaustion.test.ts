/**
 * A real broker process runs out of file descriptors (its limit lowered with `prlimit --pid`)
 * while a partition rolls a segment on every produce. The produce that cannot roll gets a
 * retriable storage error, a topic create that cannot open its files leaves nothing behind, and
 * once descriptors are free again the same partition takes produces, without a restart.
 * Partitions hold no descriptors (segments close theirs once mapped), so the table is filled
 * with client connections, each of which holds one in the broker.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { errorCodes } from '../../proto/errors.js';
import { Api, type ProducePartitionResult } from '../../proto/messages.js';
import { buildRecordBatch, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { openDescriptors } from '../helpers/proc.js';

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
const storageError = errorCodes.SLUICE_ERR_STORAGE.wire;

function batch(n: number): Buffer {
  return buildRecordBatch([{ key: Buffer.from(`k${n}`), value: Buffer.alloc(600, n % 256), timestamp: Date.now() }]);
}

describe('running out of file descriptors', () => {
  afterAll(cleanupBrokers);

  it.skipIf(!hasPrlimit)('refuses the produce that cannot roll, and takes the next one once descriptors are free', async () => {
    let broker = await startBroker();
    const pid = broker.child.pid!;
    const connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port, requestTimeoutMs: 10_000 });
    const createTopic = async (name: string, partitions: number, configs: Record<string, string> = {}) =>
      (await connection.request<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name, partitions, configs }] })).topics[0]!;
    let produced = 0;
    const produce = async (): Promise<ProducePartitionResult> => {
      const response = await connection.request<'produce'>(Api.PRODUCE, {
        acks: 1, timeoutMs: 5000, topics: [{ name: 'rolling', partitions: [{ partition: 0, records: batch(produced) }] }],
      });
      const result = response.topics[0]!.partitions[0]!;
      if (result.errorCode === 0) produced += 1;
      return result;
    };

    try {
      // Each 600-byte batch fills a 1 KiB segment: every produce after the first rolls.
      expect((await createTopic('rolling', 1, { 'segment.bytes': '1024' })).errorCode).toBe(0);
      expect((await produce()).errorCode).toBe(0);
      expect((await produce()).errorCode).toBe(0);

      const limit = openDescriptors(pid).length + 40;
      const limited = spawnSync('prlimit', [`--pid=${pid}`, `--nofile=${limit}:${limit}`], { encoding: 'utf8' });
      expect(limited.status, limited.stderr).toBe(0);

      // Fill the descriptor table with connections (the broker drops those it cannot accept).
      const fillers: net.Socket[] = [];
      for (let n = 0; n < 60; n += 1) {
        const socket = net.connect(broker.port, '127.0.0.1');
        socket.on('error', () => {});
        fillers.push(socket);
      }
      await waitFor('the descriptor table to fill', () => openDescriptors(pid).length >= limit - 1);

      // Roll until the roll itself runs out (the last few descriptors may still allow one).
      let refused: ProducePartitionResult | undefined;
      for (let attempt = 0; attempt < 5 && refused === undefined; attempt += 1) {
        const result = await produce();
        if (result.errorCode !== 0) refused = result;
      }
      expect(refused).toMatchObject({ errorCode: storageError, errorMessage: expect.stringMatching(/cannot start a segment at offset \d+.*EMFILE/) });
      expect(errorCodes.SLUICE_ERR_STORAGE.retriable).toBe(true);
      const endBefore = produced;

      // A wide topic that cannot open every partition leaves no record, no directory, no descriptor.
      const descriptorsBefore = openDescriptors(pid).length;
      const wide = await createTopic('wide', 50);
      expect(wide).toMatchObject({ errorCode: storageError, errorMessage: expect.stringMatching(/wide.*EMFILE/) });
      expect(openDescriptors(pid).length).toBeLessThanOrEqual(descriptorsBefore);
      expect(fs.readdirSync(path.join(broker.dataDirectory, 'topics')).filter((name) => name.startsWith('wide'))).toEqual([]);
      expect(fs.readdirSync(broker.dataDirectory).filter((name) => name.startsWith('wide-'))).toEqual([]);

      // Still out of descriptors: still refused, and with the same retriable error.
      expect((await produce()).errorCode).toBe(storageError);

      // Free descriptors: the same partition takes produces again, no restart.
      for (const socket of fillers) socket.destroy();
      await waitFor('the connections to close', () => openDescriptors(pid).length < limit - 20);
      for (let n = 0; n < 3; n += 1) {
        const result = await produce();
        expect(result).toMatchObject({ errorCode: 0, baseOffset: endBefore + n });
      }

      const fetched = await connection.request<'fetch'>(Api.FETCH, {
        maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ name: 'rolling', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }],
      });
      const partition = fetched.topics[0]!.partitions[0]!;
      expect(partition.errorCode).toBe(0);
      expect(partition.highWatermark).toBe(produced);
    } finally {
      connection.close();
    }

    // A clean stop and a start on the same data: every acknowledged record is there, 'wide' is not.
    expect((await broker.stop('SIGTERM')).code).toBe(0);
    broker = await startBroker({ dataDirectory: broker.dataDirectory });
    const again = new BrokerConnection({ host: '127.0.0.1', port: broker.port });
    try {
      const metadata = await again.request<'metadata'>(Api.METADATA, {});
      expect(metadata.topics.map((topic) => topic.name)).not.toContain('wide');
      const offsets: number[] = [];
      for (let offset = 0; offset < produced;) {
        const fetched = await again.request<'fetch'>(Api.FETCH, {
          maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ name: 'rolling', partitions: [{ partition: 0, fetchOffset: offset, maxBytes: 1 << 20 }] }],
        });
        const records = decodeRecords(fetched.topics[0]!.partitions[0]!.records);
        expect(records.length).toBeGreaterThan(0);
        offsets.push(...records.map((record) => record.offset));
        offset = records.at(-1)!.offset + 1;
      }
      expect(offsets).toEqual(Array.from({ length: produced }, (_, index) => index));
    } finally {
      again.close();
    }
  }, 120_000);
});
