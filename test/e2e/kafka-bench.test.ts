/**
 * `npm run bench:kafka` as people run it, at a tiny size: every client (Sluice's own, KafkaJS,
 * kcat) produces and consumes all its records, the figures agree with each other (rates with
 * times, MB/s with records/s, ratios with the rates they compare, records per request with the
 * requests the broker counted on the client's listener), and whether it ends or is
 * interrupted with SIGINT it leaves no broker, worker or kcat process and no temporary file
 * behind. Its temporary files go under a TMPDIR of this test's own, so what it leaves is seen exactly.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { benchRunner, processesMentioning } from '../helpers/bench-run.js';
import { waitFor } from '../helpers/broker-process.js';

const bench = benchRunner('kafka');
const records = 20_000;
afterAll(() => bench.cleanup());

const phases = ['sluiceProduce', 'sluiceConsume', 'kafkajsProduce', 'kafkajsConsume', 'kcatProduce', 'kcatConsume'];

describe('bench:kafka', () => {
  it('measures every client on both listeners, with the broker\'s CPU per record and the loopback baseline, and leaves nothing behind', async () => {
    const { scratch, exited } = bench.run(['--json', '--records', String(records)]);
    const { code, stdout, stderr } = await exited;
    expect(code, stderr).toBe(0);
    process.stdout.write(`bench:kafka (tiny): ${stdout}`);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
    const figure = (name: string) => {
      expect(result[name], name).toBeTypeOf('number');
      return result[name]!;
    };
    expect(figure('records')).toBe(records);
    for (const phase of phases) {
      const rate = figure(`${phase}RecordsPerSec`);
      expect(rate, phase).toBeGreaterThan(0);
      // Every record in the time measured; MB/s of 100-byte values; ratios of the rates they name.
      expect(rate * figure(`${phase}Seconds`) / records, phase).toBeCloseTo(1, 1);
      expect(figure(`${phase}MBps`), phase).toBeCloseTo((rate * 100) / 1024 ** 2, 0);
      const base = phase.endsWith('Produce') ? 'sluiceProduce' : 'sluiceConsume';
      expect(figure(`${phase}VsSluice`), phase).toBeCloseTo(rate / figure(`${base}RecordsPerSec`), 2);
      expect(figure(`${phase}VsLoopback`), phase).toBeCloseTo(figure(`${phase}MBps`) / figure('loopbackMBps'), 3);
      expect(figure(`${phase}BrokerCpuUsPerRecord`), phase).toBeGreaterThanOrEqual(0);
      // The broker answered the phase's Produce or Fetch requests on the client's listener.
      expect(figure(`${phase}Requests`), phase).toBeGreaterThan(0);
      expect(figure(`${phase}RecordsPerRequest`), phase).toBe(Math.round(records / figure(`${phase}Requests`)));
    }
    expect(figure('sluiceProduceVsSluice')).toBe(1);
    // The broker does work to store records, whoever sends them: 20,000 records take more than a clock tick.
    expect(figure('sluiceProduceBrokerCpuUsPerRecord') + figure('kafkajsProduceBrokerCpuUsPerRecord') + figure('kcatProduceBrokerCpuUsPerRecord')).toBeGreaterThan(0);
    expect(figure('loopbackMBps')).toBeGreaterThan(0);
    for (const title of ['records/s', 'broker CPU µs per record', 'vs the loopback baseline', 'ratios to Sluice\'s own client']) expect(stderr).toContain(title);
    expect(fs.readdirSync(scratch)).toEqual([]);
    expect(processesMentioning(scratch)).toEqual([]);
  }, 110_000);

  it('stops the broker and its clients and removes its files when interrupted while KafkaJS produces', async () => {
    const { scratch, interrupted, code, stderr } = await bench.interruptAt(['--records', String(records)], 'KafkaJS, produce');
    expect(interrupted, stderr).toBe(true);
    expect(code).toBe(130);
    await waitFor('no process left under the bench\'s TMPDIR', () => processesMentioning(scratch).length === 0, 10_000);
    expect(fs.readdirSync(scratch)).toEqual([]);
  }, 110_000);
});
