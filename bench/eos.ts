/**
 * Exactly-once benchmark: one broker process, clients in worker processes, 100-byte records,
 * 6 partitions. In one run: produce records/s with the idempotent producer and without it
 * (both acks=all, so the only difference is the producer id and sequence checks); transactions
 * per second with 1, 10 and 100 records per transaction; consume records/s of a topic of
 * committed and aborted transactions read with read_committed and with read_uncommitted; and,
 * as the machine's own baseline from the same run, Node-to-Node loopback socket throughput.
 *
 *   npm run bench:eos -- [--json] [--records N] [--seconds S]
 *
 * read_committed hands out only the committed half of the mixed topic, so it is shown both as
 * records handed out and as records of log got through per second.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';
import { launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';
import { killWorkers, runWorker } from './run-worker.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    records: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '5' },
  },
});
const records = Number(values.records);
const partitions = 6;
const progress = (text: string) => process.stderr.write(`${text}\n`);

interface Throughput { records: number; seconds: number; recordsPerSec: number; mbps: number }
interface Transactions { transactions: number; committedTransactions: number; records: number; committedRecords: number; seconds: number; transactionsPerSec: number; recordsPerSec: number }

const perSecond = (value: number) => Math.round(value).toLocaleString('en-US');

async function main(): Promise<void> {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-eos-'));
  const broker = await launchBroker(dataDirectory);
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  try {
    const topics = ['plain', 'idempotent', 'txn-1', 'txn-10', 'txn-100', 'mixed'];
    for (const topic of topics) await sluice.admin().createTopic(topic, { partitions });
    progress(`eos bench: broker pid ${broker.child.pid} on ${broker.bootstrap}, 100-byte records, ${partitions} partitions, acks=all`);

    progress(`produce ${records.toLocaleString('en-US')} records, not idempotent ...`);
    const plain = await runWorker<Throughput>(['produce', broker.bootstrap, 'plain', String(records), 'none', '--acks', 'all', '--idempotent', 'false']);
    progress(`  ${perSecond(plain.recordsPerSec)} records/s`);
    progress(`produce ${records.toLocaleString('en-US')} records, idempotent ...`);
    const idempotent = await runWorker<Throughput>(['produce', broker.bootstrap, 'idempotent', String(records), 'none', '--acks', 'all', '--idempotent', 'true']);
    progress(`  ${perSecond(idempotent.recordsPerSec)} records/s`);

    const transactions: Array<[number, Transactions]> = [];
    for (const size of [1, 10, 100]) {
      progress(`transactions of ${size} record${size === 1 ? '' : 's'} for ${values.seconds} s ...`);
      const result = await runWorker<Transactions>(['transactions', broker.bootstrap, `txn-${size}`, String(size), values.seconds]);
      progress(`  ${perSecond(result.transactionsPerSec)} transactions/s (${perSecond(result.recordsPerSec)} records/s)`);
      transactions.push([size, result]);
    }

    // Half the transactions of the mixed topic are aborted: read_committed skips them by the
    // aborted-transactions list, read_uncommitted hands them out.
    progress('fill a topic with committed and aborted transactions of 100 records ...');
    const mixed = await runWorker<Transactions>(['transactions', broker.bootstrap, 'mixed', '100', values.seconds, '--abort-every', '2']);
    const committedRecords = mixed.committedRecords;
    progress(`  ${mixed.transactions} transactions, ${committedRecords.toLocaleString('en-US')} records committed`);
    progress('consume it read_committed ...');
    const readCommitted = await runWorker<Throughput>(['consume', broker.bootstrap, 'mixed', String(committedRecords), String(partitions), '--isolation', 'read_committed']);
    progress(`  ${perSecond(readCommitted.recordsPerSec)} records/s handed out, ${perSecond(mixed.records / readCommitted.seconds)} records/s of log read`);
    progress('consume it read_uncommitted ...');
    const readUncommitted = await runWorker<Throughput>(['consume', broker.bootstrap, 'mixed', String(mixed.records), String(partitions), '--isolation', 'read_uncommitted']);
    progress(`  ${perSecond(readUncommitted.recordsPerSec)} records/s`);

    progress('baseline: loopback socket ...');
    const loopback = await loopbackMBps();

    const result = {
      date: new Date().toISOString(),
      machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
      records, recordBytes: 100, partitions, acks: 'all',
      produceRecordsPerSec: Math.round(plain.recordsPerSec),
      produceIdempotentRecordsPerSec: Math.round(idempotent.recordsPerSec),
      idempotentVsPlain: round(idempotent.recordsPerSec / plain.recordsPerSec, 3),
      transactionsPerSec: Object.fromEntries(transactions.map(([size, entry]) => [size, Math.round(entry.transactionsPerSec)])),
      mixedTransactions: mixed.transactions, mixedCommittedRecords: committedRecords,
      readCommittedRecordsPerSec: Math.round(readCommitted.recordsPerSec),
      // read_committed skips the aborted half: the log it gets through per second, to compare.
      readCommittedLogRecordsPerSec: Math.round(mixed.records / readCommitted.seconds),
      readUncommittedRecordsPerSec: Math.round(readUncommitted.recordsPerSec),
      loopbackMBps: round(loopback),
      produceVsLoopback: round(plain.mbps / loopback, 3),
      produceIdempotentVsLoopback: round(idempotent.mbps / loopback, 3),
      readCommittedVsLoopback: round(readCommitted.mbps / loopback, 3),
    };
    progress('');
    progress(barChart('produce records/s, acks=all', [['not idempotent', result.produceRecordsPerSec], ['idempotent', result.produceIdempotentRecordsPerSec]]));
    progress(barChart('transactions/s by records per transaction', transactions.map(([size, entry]) => [`${size}`, Math.round(entry.transactionsPerSec)])));
    progress(barChart('consume of half-aborted transactions, records/s', [
      ['read_committed, handed out', result.readCommittedRecordsPerSec],
      ['read_committed, log read', result.readCommittedLogRecordsPerSec],
      ['read_uncommitted', result.readUncommittedRecordsPerSec],
    ]));
    progress(`loopback baseline ${result.loopbackMBps} MB/s; produce ${result.produceVsLoopback}, idempotent ${result.produceIdempotentVsLoopback}, read_committed ${result.readCommittedVsLoopback} of it`);
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    killWorkers();
    await sluice.close();
    await broker.stop();
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

await main();
