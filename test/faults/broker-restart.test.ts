/**
 * A producer process keeps sending (with retries) while the broker is stopped with SIGTERM and
 * later killed with SIGKILL, and restarted on the same port and data each time. The producer
 * must carry on to the end, and every record it saw acknowledged must be readable afterwards
 * at the offset the broker acknowledged.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { expectedValue } from '../e2e/fixtures/values.js';

const producerEntry = path.resolve('dist/test/e2e/fixtures/producer.js');
const records = 150_000;

describe('broker stop and crash under load', () => {
  afterAll(cleanupBrokers);

  it('keeps every acknowledged record through SIGTERM and SIGKILL', async () => {
    let broker = await startBroker();
    const { port, dataDirectory } = broker;
    const setup = new Sluice({ bootstrap: broker.bootstrap });
    await setup.admin().createTopic('restart', { partitions: 3 });
    await setup.close();

    const acks: Array<{ partition: number; offset: number; seq: number }> = [];
    const child = spawn(process.execPath, [producerEntry, broker.bootstrap, 'restart', '7', String(records), 'mixed', 'lz4', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 200_000);
    let done = false;
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === 'done') done = true;
        const [tag, partition, offset, seq] = line.split(' ');
        if (tag === 'ack') acks.push({ partition: Number(partition), offset: Number(offset), seq: Number(seq) });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    try {
      await waitFor('20,000 acknowledged records', () => acks.length >= 20_000, 60_000);
      expect((await broker.stop('SIGTERM')).code).toBe(0);
      broker = await startBroker({ dataDirectory, port });
      await waitFor('40,000 more acknowledged records', () => acks.length >= 60_000, 60_000);
      expect((await broker.stop('SIGKILL')).signal).toBe('SIGKILL');
      broker = await startBroker({ dataDirectory, port });
      await waitFor('the producer to finish', () => done, 120_000);
      expect(await exited, stderr).toBe(0);
    } finally {
      clearTimeout(killer);
    }
    const seqs = new Set(acks.map((ack) => ack.seq));
    expect(seqs.size).toBe(records);

    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign([0, 1, 2].map((partition) => ({ topic: 'restart', partition })));
    const description = await sluice.admin().describeTopic('restart');
    const total = description.partitions.reduce((sum, partition) => sum + partition.logEndOffset, 0);
    const values = new Map<string, string>();
    const deadline = Date.now() + 60_000;
    while (values.size < total && Date.now() < deadline) {
      for (const record of await consumer.poll({ timeoutMs: 1000 })) values.set(`${record.partition}/${record.offset}`, record.value!.toString());
    }
    for (const ack of acks) {
      expect(values.get(`${ack.partition}/${ack.offset}`), `acknowledged seq ${ack.seq} at ${ack.partition}/${ack.offset}`).toBe(expectedValue(7, ack.seq));
    }
    await sluice.close();
  }, 300_000);
});
