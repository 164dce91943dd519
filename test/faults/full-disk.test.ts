/**
 * A real broker on a small tmpfs fills it. Appends go on until the disk is really full (the
 * file grows in small chunks once the chunk it preallocates ahead no longer fits, instead of
 * failing while megabytes stand reserved but unused), the first produce that cannot be stored
 * gets a retriable storage error naming ENOSPC, every acknowledged record stays readable, the
 * broker serves on, and once a topic is deleted to free space the same partition takes produces
 * again. A clean stop and a restart on the full disk keep every acknowledged record.
 *
 * Mounting needs root (as CI has); elsewhere the test is skipped.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../client/producer.js';
import { Sluice } from '../../client/sluice.js';
import { SluiceError } from '../../proto/errors.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const diskBytes = 16 * 1024 * 1024;
const valueBytes = 200;
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-full-disk-'));
let mounted = false;

beforeAll(() => {
  mounted = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${diskBytes}`, 'tmpfs', mountPoint]).status === 0;
});
afterAll(async () => {
  await cleanupBrokers();
  if (mounted) spawnSync('umount', [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

const recordValue = (partition: number, offset: number) => `${partition}:${offset}:`.padEnd(valueBytes, 'x');

describe('a full disk', () => {
  it('stores until the disk is full, refuses then, keeps every acknowledged record, and takes produces again once space is freed', async (context) => {
    if (!mounted) context.skip();
    const dataDirectory = path.join(mountPoint, 'data');
    let broker = await startBroker({ dataDirectory });
    let sluice = new Sluice({ bootstrap: broker.bootstrap });
    const admin = sluice.admin();
    await admin.createTopic('fill', { partitions: 2 });
    await admin.createTopic('ballast', { partitions: 1 });
    const producer = sluice.producer({ acks: 1, lingerMs: 2, deliveryTimeoutMs: 2000, retryBackoffMs: 50 });
    await producer.send({ topic: 'ballast', messages: Array.from({ length: 10_000 }, () => ({ value: 'b'.repeat(valueBytes) })) });

    // Fill the disk, one partition per send so each send's outcome is one partition's.
    const acknowledged = new Map<number, number>([[0, 0], [1, 0]]);
    let refusal: unknown;
    for (let send = 0; send < 400 && refusal === undefined; send += 1) {
      const partition = send % 2;
      const next = acknowledged.get(partition)!;
      const messages = Array.from({ length: 500 }, (_, index) => ({ value: recordValue(partition, next + index), partition }));
      try {
        const sent = await producer.send({ topic: 'fill', messages });
        acknowledged.set(partition, sent.at(-1)!.offset + 1);
      } catch (error) {
        refusal = error;
        if (error instanceof DeliveryError) acknowledged.set(partition, Math.max(...error.results.map((result) => (result === undefined ? 0 : result.offset + 1))));
      }
    }
    expect(SluiceError.is(refusal)).toBe(true);
    expect(String((refusal as Error).message)).toMatch(/No space left on device|ENOSPC/);
    const stored = (acknowledged.get(0)! + acknowledged.get(1)!) * valueBytes;
    // Most of the disk holds records, not preallocated tails (before: about a tenth of it).
    expect(stored).toBeGreaterThan(diskBytes * 0.6);

    const readAll = async (client: Sluice) => {
      const consumer = client.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50 });
      consumer.assign([{ topic: 'fill', partition: 0 }, { topic: 'fill', partition: 1 }]);
      const seen = new Map<number, number>([[0, 0], [1, 0]]);
      await waitFor('every acknowledged record', async () => {
        for (const record of await consumer.poll({ timeoutMs: 200 })) {
          // Offsets come in order and each holds what was sent for it.
          expect(record.offset).toBe(seen.get(record.partition));
          expect(record.value?.toString()).toBe(recordValue(record.partition, record.offset));
          seen.set(record.partition, record.offset + 1);
        }
        return seen.get(0)! >= acknowledged.get(0)! && seen.get(1)! >= acknowledged.get(1)!;
      }, 20_000);
      await consumer.close();
    };
    await readAll(sluice);

    // Still serving; deleting a topic frees its blocks at once, and the partition takes produces again.
    expect((await admin.describeTopic('fill')).partitions).toHaveLength(2);
    await admin.deleteTopic('ballast');
    const again = await producer.send({ topic: 'fill', messages: [{ value: recordValue(0, acknowledged.get(0)!), partition: 0 }] });
    acknowledged.set(0, again[0]!.offset + 1);

    await sluice.close();
    expect((await broker.stop('SIGTERM')).code).toBe(0);
    broker = await startBroker({ dataDirectory });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    await readAll(sluice);
    await sluice.close();
  });
});
