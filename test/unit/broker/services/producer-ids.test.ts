/**
 * Producer id blocks: a single broker's file (higher ids after a restart, a torn or garbled
 * file never makes ids repeat) and the cluster's etcd key (brokers claiming at once never
 * overlap).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../../../broker/cluster/etcd-client.js';
import { ClusterKeys } from '../../../../broker/cluster/keys.js';
import {
  EtcdBlockSource, FileBlockSource, ProducerIdAllocator, producerIdBlockFile, type ProducerIdBlockSource,
} from '../../../../broker/services/producer-ids.js';
import { cleanupEtcd, startTestEtcd } from '../../../helpers/etcd.js';

describe('producer ids from the data directory', () => {
  let directory: string;
  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-producer-ids-'));
  });
  afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

  it('hands out ids in order from blocks, and a restart starts above every id handed out', async () => {
    const first = new ProducerIdAllocator(new FileBlockSource(directory), 10);
    const before = await Promise.all(Array.from({ length: 25 }, () => first.allocate()));
    expect(before).toEqual(Array.from({ length: 25 }, (_, index) => index));
    // The third block (20..29) is on disk before 20 was handed out.
    expect(fs.readFileSync(path.join(directory, producerIdBlockFile), 'utf8')).toBe('0\n30\n');
    const restarted = new ProducerIdAllocator(new FileBlockSource(directory), 10);
    const after = await restarted.allocate();
    expect(after).toBe(30);
    expect(after).toBeGreaterThan(Math.max(...before));
  });

  it('a torn write leaves the old block: the temporary file is ignored and ids still go up', async () => {
    const allocator = new ProducerIdAllocator(new FileBlockSource(directory), 100);
    await allocator.allocate();
    // A crash while writing the next block: a half-written temporary file, never renamed.
    fs.writeFileSync(path.join(directory, `${producerIdBlockFile}.tmp`), '0\n2');
    const restarted = new ProducerIdAllocator(new FileBlockSource(directory), 100);
    expect(await restarted.allocate()).toBe(100);
    expect(fs.readFileSync(path.join(directory, producerIdBlockFile), 'utf8')).toBe('0\n200\n');
  });

  it('refuses a garbled block file instead of guessing (a low guess would repeat ids)', async () => {
    fs.writeFileSync(path.join(directory, producerIdBlockFile), '0\n12ab\n');
    const allocator = new ProducerIdAllocator(new FileBlockSource(directory));
    await expect(allocator.allocate()).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE', message: expect.stringContaining(producerIdBlockFile) });
  });

  it('stops below 2^53', async () => {
    fs.writeFileSync(path.join(directory, producerIdBlockFile), `0\n${Number.MAX_SAFE_INTEGER - 5}\n`);
    const allocator = new ProducerIdAllocator(new FileBlockSource(directory));
    await expect(allocator.allocate()).rejects.toThrow(/2\^53/);
  });

  it('concurrent callers share one claim', async () => {
    let claims = 0;
    const source: ProducerIdBlockSource = {
      async claim(size) {
        claims += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return { first: (claims - 1) * size, end: claims * size };
      },
    };
    const allocator = new ProducerIdAllocator(source, 1000);
    const ids = await Promise.all(Array.from({ length: 50 }, () => allocator.allocate()));
    expect(claims).toBe(1);
    expect(new Set(ids).size).toBe(50);
  });
});

describe('producer ids from etcd', () => {
  afterAll(cleanupEtcd);

  it('brokers claiming blocks at the same time never get overlapping ids, and a restart goes on above them', async () => {
    const etcd = await startTestEtcd();
    const keys = new ClusterKeys(`ids-${process.pid}`);
    const clients = [0, 1, 2].map(() => createEtcdClient(etcd.endpoints, 2000));
    try {
      const allocators = clients.map((client, nodeId) => new ProducerIdAllocator(new EtcdBlockSource(client, keys.producerIdBlock, nodeId), 7));
      // Every allocator runs out of its block often, so their claims race.
      const perBroker = await Promise.all(allocators.map((allocator) => Promise.all(Array.from({ length: 60 }, () => allocator.allocate()))));
      const all = perBroker.flat();
      expect(new Set(all).size).toBe(all.length);
      for (const ids of perBroker) expect(ids).toEqual([...ids].sort((a, b) => a - b));
      const stored = JSON.parse((await clients[0]!.get(keys.producerIdBlock).string())!) as { end: number };
      expect(stored.end).toBeGreaterThan(Math.max(...all));
      const restarted = new ProducerIdAllocator(new EtcdBlockSource(clients[1]!, keys.producerIdBlock, 1), 7);
      expect(await restarted.allocate()).toBe(stored.end);
    } finally {
      for (const client of clients) client.close();
    }
  });

  it('etcd away: a retriable METADATA_STORE error, not an id', async () => {
    const client = createEtcdClient(['http://127.0.0.1:1'], 300);
    try {
      const allocator = new ProducerIdAllocator(new EtcdBlockSource(client, new ClusterKeys('gone').producerIdBlock, 0));
      await expect(allocator.allocate()).rejects.toMatchObject({ code: 'SLUICE_ERR_METADATA_STORE', retriable: true });
    } finally {
      client.close();
    }
  });
});
