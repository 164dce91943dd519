/**
 * A compacted topic through a real broker: repeated keys compact to the last value per key on
 * the broker's cleaner timer, deleted keys vanish once tombstones are older than
 * delete.retention.ms, and records without a key are refused. Deleting a topic and stopping the
 * broker while its cleaner works leave no error, no cleaned file and a clean exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../proto/errors.js';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

afterAll(cleanupBrokers);

describe('compacted topics', () => {
  it('keep one record per key, drop deleted keys, and refuse null keys', async () => {
    const broker = await startBroker({ args: ['--retention-check-interval-ms', '100'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('table', {
      partitions: 1,
      configs: { 'cleanup.policy': 'compact', 'segment.bytes': '2048', 'delete.retention.ms': '0' },
    });
    const producer = sluice.producer({ lingerMs: 0 });
    for (let round = 0; round < 30; round += 1) {
      await producer.send({ topic: 'table', messages: Array.from({ length: 10 }, (_, key) => ({ key: `k${key}`, value: `round-${round}`, partition: 0 })) });
    }
    await producer.send({ topic: 'table', messages: [{ key: 'k3', value: null, partition: 0 }, { key: 'k7', value: null, partition: 0 }] });
    // Later writes roll the segments holding the last values and tombstones, so they can be cleaned.
    for (let filler = 0; filler < 10; filler += 1) await producer.send({ topic: 'table', messages: [{ key: 'filler', value: 'x'.repeat(400), partition: 0 }] });
    await expect(producer.send({ topic: 'table', messages: [{ key: null, value: 'no key', partition: 0 }] }))
      .rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_RECORD', wireCode: errorCodes.SLUICE_ERR_INVALID_RECORD.wire });

    const readFromStart = async () => {
      const consumer = sluice.consumer();
      consumer.assign([{ topic: 'table', partition: 0, offset: 0 }]);
      const { logEndOffset } = (await sluice.admin().describeTopic('table')).partitions[0]!;
      const seen: Array<{ key: string; value: string | null }> = [];
      let last = -1;
      const deadline = Date.now() + 5000;
      while (last < logEndOffset - 1 && Date.now() < deadline) {
        for (const record of await consumer.poll({ timeoutMs: 200 })) {
          seen.push({ key: record.key!.toString(), value: record.value?.toString() ?? null });
          last = record.offset;
        }
      }
      await consumer.close();
      return seen.filter((record) => record.key !== 'filler');
    };
    await waitFor('the cleaner to compact the topic', async () => (await readFromStart()).length === 8, 20_000);
    const records = await readFromStart();
    expect(records.map((record) => record.key).sort()).toEqual(['k0', 'k1', 'k2', 'k4', 'k5', 'k6', 'k8', 'k9']);
    expect(records.every((record) => record.value === 'round-29')).toBe(true);
    await sluice.close();
  });

  it('delete a topic and stop the broker while the cleaner works, without errors or leftovers', async () => {
    const broker = await startBroker({ args: ['--retention-check-interval-ms', '20'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    const admin = sluice.admin();
    const configs = { 'cleanup.policy': 'compact', 'segment.bytes': String(256 * 1024), 'min.cleanable.dirty.ratio': '0.1' };
    const producer = sluice.producer({ lingerMs: 0 });
    const fill = async (topic: string, rounds: number) => {
      await admin.createTopic(topic, { partitions: 1, configs });
      for (let round = 0; round < rounds; round += 1) {
        await producer.send({ topic, messages: Array.from({ length: 100 }, (_, key) => ({ key: `k${key}`, value: `${round}-${'v'.repeat(1000)}`, partition: 0 })) });
      }
    };
    // ~4 MiB over 16 segments: the cleaner passes over it again and again while it grows.
    await fill('doomed', 40);
    await admin.deleteTopic('doomed');
    expect(fs.existsSync(path.join(broker.dataDirectory, 'doomed-0'))).toBe(false);

    await fill('kept', 40);
    const consumer = sluice.consumer();
    consumer.assign([{ topic: 'kept', partition: 0, offset: 0 }]);
    const { logEndOffset } = (await admin.describeTopic('kept')).partitions[0]!;
    const latest = new Map<string, string>();
    for (let last = -1, deadline = Date.now() + 10_000; last < logEndOffset - 1 && Date.now() < deadline;) {
      for (const record of await consumer.poll({ timeoutMs: 200 })) {
        latest.set(record.key!.toString(), record.value!.toString().split('-')[0]!);
        last = record.offset;
      }
    }
    await consumer.close();
    expect(latest.size).toBe(100);
    expect([...latest.values()].every((round) => round === '39')).toBe(true);
    await sluice.close();

    expect(await broker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const errors = broker.logs.filter((line) => /"level":(50|60)/.test(line));
    expect(errors).toEqual([]);
    const leftovers = fs.readdirSync(broker.dataDirectory, { recursive: true }).map(String)
      .filter((name) => name.endsWith('.cleaned') || name.startsWith('doomed'));
    expect(leftovers).toEqual([]);
  });
});
