/**
 * 3 producer processes × 6 partitions × 100,000 records each (keyed, null keys, mixed; LZ4,
 * none and zstd) into one broker process; one consumer reads everything back. Per partition, each
 * producer's records must appear in the order it sent them; nothing lost, nothing duplicated,
 * every byte as sent.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { expectedKey, expectedValue, parseValue } from './fixtures/values.js';

const producerEntry = path.resolve('dist/test/e2e/fixtures/producer.js');
const recordsPerProducer = Number(process.env.SLUICE_E2E_RECORDS ?? 100_000);
const producers = [
  { id: 0, keys: 'keyed', compression: 'lz4' },
  { id: 1, keys: 'null', compression: 'none' },
  { id: 2, keys: 'mixed', compression: 'zstd' },
];

function runProducer(bootstrap: string, id: number, keys: string, compression: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [producerEntry, bootstrap, 'e2e', String(id), String(recordsPerProducer), keys, compression], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = 0;
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      acked += lines.filter((line) => line.startsWith('ack ')).length;
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(acked);
      else reject(new Error(`producer ${id} exited ${code}: ${stderr}`));
    });
  });
}

describe('produce and consume across processes', () => {
  afterAll(cleanupBrokers);

  it(`delivers ${3 * recordsPerProducer} records in order, once, byte for byte`, async () => {
    const broker = await startBroker();
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('e2e', { partitions: 6 });
    const acked = await Promise.all(producers.map(({ id, keys, compression }) => runProducer(broker.bootstrap, id, keys, compression)));
    expect(acked).toEqual([recordsPerProducer, recordsPerProducer, recordsPerProducer]);

    const consumer = sluice.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: 'e2e', partition })));
    const lastSeq = new Map<string, number>();
    const seen = producers.map(() => new Uint8Array(recordsPerProducer));
    let total = 0;
    const deadline = Date.now() + 120_000;
    while (total < 3 * recordsPerProducer && Date.now() < deadline) {
      for (const record of await consumer.poll({ timeoutMs: 1000 })) {
        const value = record.value!.toString();
        const { producerId, seq } = parseValue(value);
        expect(value).toBe(expectedValue(producerId, seq));
        expect(record.key?.toString() ?? null).toBe(expectedKey(producerId, seq, producers[producerId]!.keys));
        const order = `${record.partition}/${producerId}`;
        expect(seq, `order in ${order}`).toBeGreaterThan(lastSeq.get(order) ?? -1);
        lastSeq.set(order, seq);
        expect(seen[producerId]![seq], `duplicate p${producerId} s${seq}`).toBe(0);
        seen[producerId]![seq] = 1;
        total += 1;
      }
    }
    expect(total).toBe(3 * recordsPerProducer);
    for (const marks of seen) expect(marks.every((mark) => mark === 1)).toBe(true);
    // Nothing more arrives: the log holds exactly what was acknowledged.
    expect(await consumer.poll({ timeoutMs: 300 })).toEqual([]);
    const description = await sluice.admin().describeTopic('e2e');
    expect(description.partitions.reduce((sum, partition) => sum + partition.logEndOffset, 0)).toBe(3 * recordsPerProducer);
    await sluice.close();
    expect((await broker.stop()).code).toBe(0);
  }, 300_000);
});
