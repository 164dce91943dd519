/**
 * A broker with `--segment-cache-size 4` and a topic of small segments: a consumer reading
 * every segment from the start gets every record back, in order, while the broker keeps at most
 * 4 sealed segments mapped (GET /v1/broker shows the cache, its misses and evictions), before
 * and after a restart.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';

const batches = 120;
const recordsPerBatch = 10;

interface CacheView {
  capacity: number;
  cached: number;
  hits: number;
  misses: number;
  evictions: number;
}

async function resources(broker: BrokerProcess): Promise<{ segments: number; segmentCache: CacheView }> {
  return (await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/broker`)).json()).resources;
}

function batch(n: number): Buffer {
  return buildRecordBatch(Array.from({ length: recordsPerBatch }, (_, index) => ({
    key: null, value: Buffer.alloc(100, `${n * recordsPerBatch + index}|`), timestamp: Date.now(),
  })));
}

/** Every record value of the partition, fetched from offset 0 in small responses. */
async function readAll(connection: BrokerConnection): Promise<string[]> {
  const values: string[] = [];
  for (let offset = 0; offset < batches * recordsPerBatch;) {
    const response = await connection.request<'fetch'>(Api.FETCH, {
      maxWaitMs: 0, minBytes: 1, maxBytes: 8 * 1024,
      topics: [{ name: 'segs', partitions: [{ partition: 0, fetchOffset: offset, maxBytes: 8 * 1024 }] }],
    });
    const partition = response.topics[0]!.partitions[0]!;
    expect(partition.errorCode).toBe(0);
    const records = decodeRecords(partition.records).filter((record) => record.offset >= offset);
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) values.push(record.value!.toString().split('|')[0]!);
    offset = records.at(-1)!.offset + 1;
  }
  return values;
}

const expected = Array.from({ length: batches * recordsPerBatch }, (_, n) => String(n));

describe('a broker with a small segment cache', () => {
  afterAll(cleanupBrokers);

  it('serves every segment from the start with at most 4 sealed segments mapped, before and after a restart', async () => {
    const args = ['--segment-cache-size', '4'];
    let broker = await startBroker({ args, kafkaPort: 'off' });
    let connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port });
    try {
      const created = await connection.request<'createTopics'>(Api.CREATE_TOPICS, {
        topics: [{ name: 'segs', partitions: 1, configs: { 'segment.bytes': '4096' } }],
      });
      expect(created.topics[0]!.errorCode).toBe(0);
      for (let n = 0; n < batches; n += 1) {
        const produced = await connection.request<'produce'>(Api.PRODUCE, {
          acks: 1, timeoutMs: 10_000, topics: [{ name: 'segs', partitions: [{ partition: 0, records: batch(n) }] }],
        });
        expect(produced.topics[0]!.partitions[0]!.errorCode).toBe(0);
      }
      const before = await resources(broker);
      expect(before.segments).toBeGreaterThan(35);
      expect(before.segmentCache).toMatchObject({ capacity: 4 });
      expect(before.segmentCache.cached).toBeLessThanOrEqual(4);

      expect(await readAll(connection)).toEqual(expected);
      const after = await resources(broker);
      expect(after.segmentCache.cached).toBeLessThanOrEqual(4);
      expect(after.segmentCache.misses - before.segmentCache.misses).toBeGreaterThan(25);
      expect(after.segmentCache.evictions - before.segmentCache.evictions).toBeGreaterThan(25);

      connection.close();
      expect((await broker.stop('SIGTERM')).code).toBe(0);
      broker = await startBroker({ args, kafkaPort: 'off', dataDirectory: broker.dataDirectory });
      connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port });
      expect(await readAll(connection)).toEqual(expected);
      expect((await resources(broker)).segmentCache.cached).toBeLessThanOrEqual(4);
    } finally {
      connection.close();
    }
  }, 30_000);
});
