/**
 * A broker whose data directory holds a garbage `.timeindex` (random bytes of the wrong
 * length) starts, logs a warning, rebuilds the index from the log, and answers ListOffsets by
 * timestamp exactly as before. Before, the broker refused to start.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const base = 1_700_000_000_000;

describe('a garbage time index', () => {
  afterAll(cleanupBrokers);

  it('is rebuilt when its partition is first opened after a restart, with a warning, and time lookups still give the right offsets', async () => {
    let broker = await startBroker();
    let connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port });
    const lookup = async (timestamps: number[]) => {
      const response = await connection.request<'listOffsets'>(Api.LIST_OFFSETS, {
        topics: [{ name: 'timed', partitions: timestamps.map((timestamp) => ({ partition: 0, timestamp })) }],
      });
      return response.topics[0]!.partitions.map(({ errorCode, offset, timestamp }) => ({ errorCode, offset, timestamp }));
    };
    const targets = [base - 1, ...Array.from({ length: 40 }, (_, n) => [base + n * 1000, base + n * 1000 + 500]).flat(), base + 99_000];
    let before: Awaited<ReturnType<typeof lookup>>;
    try {
      await connection.request<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name: 'timed', partitions: 1, configs: { 'segment.bytes': '4096', 'index.interval.bytes': '256' } }] });
      for (let n = 0; n < 40; n += 1) {
        const records = [0, 1, 2].map((index) => ({ key: null, value: Buffer.alloc(100, n), timestamp: base + n * 1000 + index * 300 }));
        const response = await connection.request<'produce'>(Api.PRODUCE, { acks: 1, timeoutMs: 5000, topics: [{ name: 'timed', partitions: [{ partition: 0, records: buildRecordBatch(records) }] }] });
        expect(response.topics[0]!.partitions[0]!.errorCode).toBe(0);
      }
      before = await lookup(targets);
      expect(before.filter((answer) => answer.errorCode === 0 && answer.offset >= 0).length).toBeGreaterThan(40);
    } finally {
      connection.close();
    }
    expect((await broker.stop('SIGTERM')).code).toBe(0);

    const partitionDirectory = path.join(broker.dataDirectory, 'timed-0');
    const timeIndexes = fs.readdirSync(partitionDirectory).filter((name) => name.endsWith('.timeindex')).sort();
    expect(timeIndexes.length).toBeGreaterThan(3);
    fs.writeFileSync(path.join(partitionDirectory, timeIndexes[1]!), crypto.randomBytes(1000));

    // A clean start opens partitions lazily: the first lookup opens this one and validates its indexes.
    broker = await startBroker({ dataDirectory: broker.dataDirectory });
    connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port });
    try {
      expect(await lookup(targets)).toEqual(before);
    } finally {
      connection.close();
    }
    const rebuilt = () => broker.logs.find((line) => line.includes('rebuilt partition indexes that failed validation'));
    await waitFor('the rebuilt-index warning', () => rebuilt() !== undefined, 5000);
    expect(JSON.parse(rebuilt()!)).toMatchObject({ level: 40, topic: 'timed', partition: 0, indexesRebuilt: 1 });
  }, 60_000);
});
