/**
 * End-to-end benchmark: one broker process and one client process on this machine, 100-byte
 * records, 6 partitions, acks=1. Measures produce throughput with LZ4 off and on, with the
 * client's default producer (acks=all, idempotent: producer id and sequence numbers, 5
 * batches in flight per partition) and with the at-least-once producer at acks=all (one batch
 * per partition in flight), one
 * consumer reading the whole topic, produce latency at a fixed rate of 20% of the measured
 * maximum, and, as the machine's own baseline from the same run, Node-to-Node loopback
 * socket throughput.
 *
 * The latency phase sends each millisecond's records at once (lingerMs 0), which
 * saturates this 2-core machine well below the batched maximum: comparing two builds, give
 * both the same `--latency-rate`, or the faster one is measured at a rate nearer saturation.
 *
 *   npm run bench:e2e -- [--json] [--records N] [--latency-rate RECORDS_PER_S]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';
import { launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';
import { runWorker } from './run-worker.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    records: { type: 'string', default: '3000000' },
    'latency-records': { type: 'string', default: '300000' },
    'latency-rate': { type: 'string' },
  },
});
const records = Number(values.records);
const fixedRate = values['latency-rate'] === undefined ? undefined : Number(values['latency-rate']);
if (fixedRate !== undefined && !(fixedRate >= 1)) throw new Error(`--latency-rate must be a number of records per second, not ${values['latency-rate']}`);
const partitions = 6;
const progress = (text: string) => process.stderr.write(`${text}\n`);

interface Throughput { records: number; seconds: number; recordsPerSec: number; mbps: number }
interface Latency { rate: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number }

async function main(): Promise<void> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-e2e-'));
  const broker = await launchBroker(dataDirectory);
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  try {
    for (const topic of ['plain', 'lz4', 'defaults', 'at-least-once', 'latency']) await sluice.admin().createTopic(topic, { partitions });
    progress(`e2e bench: broker pid ${broker.child.pid} on ${broker.bootstrap}, ${records.toLocaleString('en-US')} records of 100 bytes, ${partitions} partitions, acks=1`);
    progress('produce, LZ4 off ...');
    const plain = await runWorker<Throughput>(['produce', broker.bootstrap, 'plain', String(records), 'none']);
    progress(`  ${Math.round(plain.recordsPerSec).toLocaleString('en-US')} records/s`);
    progress('produce, LZ4 on ...');
    const lz4 = await runWorker<Throughput>(['produce', broker.bootstrap, 'lz4', String(records), 'lz4']);
    progress(`  ${Math.round(lz4.recordsPerSec).toLocaleString('en-US')} records/s`);
    progress('produce, client defaults (acks=all, idempotent) ...');
    const defaults = await runWorker<Throughput>(['produce', broker.bootstrap, 'defaults', String(records), 'none', '--acks', 'all']);
    progress(`  ${Math.round(defaults.recordsPerSec).toLocaleString('en-US')} records/s`);
    progress('produce, acks=all at-least-once (idempotent: false) ...');
    const atLeastOnce = await runWorker<Throughput>(['produce', broker.bootstrap, 'at-least-once', String(records), 'none', '--acks', 'all', '--idempotent', 'false']);
    progress(`  ${Math.round(atLeastOnce.recordsPerSec).toLocaleString('en-US')} records/s`);
    progress('consume the whole topic ...');
    const consume = await runWorker<Throughput>(['consume', broker.bootstrap, 'plain', String(records), String(partitions)]);
    progress(`  ${Math.round(consume.recordsPerSec).toLocaleString('en-US')} records/s`);
    const rate = fixedRate ?? Math.round(Math.max(plain.recordsPerSec, lz4.recordsPerSec) * 0.2);
    progress(`produce latency at ${rate.toLocaleString('en-US')} records/s (${fixedRate === undefined ? '20% of the maximum' : 'as asked'}) ...`);
    const latency = await runWorker<Latency>(['produce', broker.bootstrap, 'latency', values['latency-records'], 'none', String(rate)]);
    progress('baseline: loopback socket ...');
    const loopback = await loopbackMBps();

    const result = {
      date: new Date().toISOString(),
      machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
      records, recordBytes: 100, partitions, acks: 1,
      produceRecordsPerSec: Math.round(plain.recordsPerSec),
      produceMBps: round(plain.mbps),
      produceLz4RecordsPerSec: Math.round(lz4.recordsPerSec),
      produceLz4MBps: round(lz4.mbps),
      produceDefaultsRecordsPerSec: Math.round(defaults.recordsPerSec),
      produceAtLeastOnceRecordsPerSec: Math.round(atLeastOnce.recordsPerSec),
      consumeRecordsPerSec: Math.round(consume.recordsPerSec),
      consumeMBps: round(consume.mbps),
      latencyRate: rate,
      produceP50Ms: latency.p50Ms,
      produceP99Ms: latency.p99Ms,
      produceP999Ms: latency.p999Ms,
      loopbackMBps: round(loopback),
      produceVsLoopback: round(plain.mbps / loopback, 3),
      consumeVsLoopback: round(consume.mbps / loopback, 3),
    };
    progress('');
    progress(barChart('records/s (one broker and one client process sharing 2 cores)', [
      ['produce', result.produceRecordsPerSec],
      ['produce lz4', result.produceLz4RecordsPerSec],
      ['produce acks=all', result.produceDefaultsRecordsPerSec],
      ['acks=all no idem.', result.produceAtLeastOnceRecordsPerSec],
      ['consume', result.consumeRecordsPerSec],
    ]));
    progress(barChart('MB/s of record values vs the loopback baseline', [
      ['produce', result.produceMBps],
      ['consume', result.consumeMBps],
      ['loopback', result.loopbackMBps],
    ]));
    progress(`latency at ${rate.toLocaleString('en-US')} records/s: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, p99.9 ${latency.p999Ms} ms`);
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await sluice.close();
    await broker.stop();
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

await main();
