/**
 * SIGKILL while delayed records fire (behaviour 23): 2,000 records due within a 2 s window; the
 * broker is killed twice mid-firing and restarted on the same data. Every record reaches its
 * partition exactly once, never before its due time, and those that fell due while the broker
 * was down fire within 1 s of it being ready again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { delayedMetrics, header, readRecords } from '../helpers/delayed.js';

const records = 2000;

async function logEnd(broker: BrokerProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return Number(/^sluice_log_end_offset\{topic="fired",partition="0"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('delayed delivery under SIGKILL', () => {
  afterAll(cleanupBrokers);

  it('delivers each record exactly once, overdue ones within 1 s of restart', async () => {
    let broker = await startBroker({ kafkaPort: 'off' });
    let sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('fired', { partitions: 1, configs: { 'delayed.delivery.enable': 'true' } });
    // Not idempotent: no empty stand-in batches, so the partition's log end counts fired records.
    const producer = sluice.producer({ idempotent: false, lingerMs: 5 });
    const first = Date.now() + 1500;
    const due = (index: number) => first + Math.floor((index * 2000) / records);
    const sends: Promise<unknown>[] = [];
    for (let index = 0; index < records; index += 1) sends.push(producer.send({ topic: 'fired', messages: [{ value: `r${index}`, headers: { 'x-deliver-at': String(due(index)) } }] }));
    await Promise.all(sends);
    await sluice.close();
    const restarts: { killed: number; ready: number }[] = [];
    for (const killAt of [400, 1200]) {
      await waitFor(`${killAt} records fired`, async () => (await logEnd(broker)) >= killAt, 10_000);
      const killed = Date.now();
      expect((await broker.stop('SIGKILL')).signal).toBe('SIGKILL');
      broker = await startBroker({ kafkaPort: 'off', dataDirectory: broker.dataDirectory, port: broker.port });
      restarts.push({ killed, ready: Date.now() });
    }
    await waitFor('every record fired', async () => (await logEnd(broker)) >= records, 10_000);
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    const delivered = await readRecords(sluice, 'fired', await logEnd(broker), 10_000);
    await sluice.close();
    expect(delivered.length).toBe(records);
    expect(new Set(delivered.map((record) => record.value!.toString())).size).toBe(records);
    let overdue = 0;
    for (const record of delivered) {
      const dueAt = Number(header(record, 'x-deliver-at'));
      expect(record.timestamp).toBeGreaterThanOrEqual(dueAt);
      // Fell due while the broker was down or starting, fired after the kill: within 1 s of it being ready.
      const restart = [...restarts].reverse().find(({ killed }) => record.timestamp > killed);
      if (restart !== undefined && dueAt <= restart.ready) {
        overdue += 1;
        expect(record.timestamp - restart.ready).toBeLessThanOrEqual(1000);
      }
    }
    expect(overdue).toBeGreaterThan(0);
    expect((await delayedMetrics(broker.httpPort)).early_total).toBe(0);
    expect(await logEnd(broker)).toBe(records);
  });
});
