/**
 * Connections cannot make the broker hold unbounded memory (issue 9.7), with the broker's
 * default limits: 500 slow clients each stuck 90% into a 2 MiB request frame keep its resident
 * memory far below the 1 GB they try to make it hold, while a normal client is served; and a
 * client pipelining more requests than the in-flight limit is slowed down, never refused.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerMemory } from '../../bench/broker-process.js';
import { BrokerConnection } from '../../client/connection.js';
import { Sluice } from '../../client/sluice.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

afterAll(cleanupBrokers);

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Resident and peak resident memory of a process, from /proc. */
function residentBytes(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('connection memory bounds', () => {
  it('keeps its memory bounded under 500 slow connections holding 90% of a 2 MiB frame, and serves a normal client', async () => {
    const broker = await startBroker();
    const pid = broker.child.pid!;
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('served', { partitions: 1 });
    const before = residentBytes(pid);

    const frameBytes = 2 * 1024 * 1024;
    const slowCount = 500;
    const partial = Buffer.alloc(4 + Math.floor(frameBytes * 0.9), 0x5a);
    partial.writeUInt32BE(frameBytes, 0);
    const slow: net.Socket[] = [];
    for (let index = 0; index < slowCount; index += 1) {
      const socket = await connect(broker.port);
      socket.on('error', () => {});
      socket.write(partial);
      slow.push(socket);
    }
    // Let the broker take in whatever it is going to: until its memory stops growing.
    let last = residentBytes(pid).rss;
    let steadySince = Date.now();
    await waitFor('the broker\'s memory to settle', () => {
      const now = residentBytes(pid).rss;
      if (now > last + 2 * 1024 * 1024) steadySince = Date.now();
      last = Math.max(last, now);
      return Date.now() - steadySince > 1500;
    }, 20_000);

    // Meanwhile a normal client produces and consumes.
    const producer = sluice.producer({ lingerMs: 1 });
    await producer.send({ topic: 'served', messages: Array.from({ length: 200 }, (_, index) => ({ value: `served-${index}` })) });
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 100 });
    consumer.assign([{ topic: 'served', partition: 0 }]);
    const received: string[] = [];
    await waitFor('the normal client to read its 200 records', async () => {
      for (const record of await consumer.poll({ timeoutMs: 200 })) received.push(record.value!.toString());
      return received.length >= 200;
    }, 20_000);
    expect(received).toEqual(Array.from({ length: 200 }, (_, index) => `served-${index}`));

    const after = residentBytes(pid);
    console.log(`broker RSS with ${slowCount} slow connections, each ${mib(partial.length)} MiB into a ${mib(frameBytes)} MiB frame: ${mib(after.rss)} MiB (peak ${mib(after.peak)} MiB; ${mib(before.rss)} MiB before they came)`);
    expect(broker.child.exitCode).toBeNull();
    // Unbounded, the broker would hold 500 × 1.8 MiB = 900 MiB of partial frames.
    expect(after.peak).toBeLessThan(400 * 1024 * 1024);
    const { requestMemory } = await brokerMemory(broker.httpPort);
    console.log(`request memory ${mib(requestMemory.usedBytes)} of ${mib(requestMemory.capacityBytes)} MiB held, ${requestMemory.waitingConnections} connections waiting for some`);
    expect(requestMemory.usedBytes).toBeLessThanOrEqual(requestMemory.capacityBytes);
    expect(requestMemory.waitingConnections).toBeGreaterThan(0);
    for (const socket of slow) socket.destroy();
    await sluice.close();
  }, 90_000);

  it('answers 300 produce requests pipelined on one connection, none refused for being too many', async () => {
    const broker = await startBroker();
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('pipelined', { partitions: 1 });
    const connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port });
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('pipelined') }]);
    const results = await Promise.allSettled(Array.from({ length: 300 }, () => connection.request(Api.PRODUCE, {
      acks: 1, timeoutMs: 5000, topics: [{ name: 'pipelined', partitions: [{ partition: 0, records: batch }] }],
    })));
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused.map((result) => String((result as PromiseRejectedResult).reason))).toEqual([]);
    const offsets = results.map((result) => (result as PromiseFulfilledResult<{ topics: Array<{ partitions: Array<{ errorCode: number; baseOffset: number }> }> }>).value.topics[0]!.partitions[0]!);
    expect(offsets.every((partition) => partition.errorCode === 0)).toBe(true);
    expect(new Set(offsets.map((partition) => partition.baseOffset)).size).toBe(300);
    expect((await sluice.admin().describeTopic('pipelined')).partitions[0]!.logEndOffset).toBe(300);
    connection.close();
    await sluice.close();
  });
});
