/**
 * Child process of the e2e and cluster benchmarks, so the client does not share a thread with
 * the brokers or the coordinator. Modes:
 *   produce BOOTSTRAP TOPIC RECORDS COMPRESSION [RATE]  — as fast as possible, or at RATE
 *       records/s with latency measured from each send's intended time (coordinated
 *       omission corrected)
 *   consume BOOTSTRAP TOPIC RECORDS PARTITIONS          — read everything from the start
 *   transactions BOOTSTRAP TOPIC RECORDS_PER_TXN SECONDS — transactions of that many records
 *       one after another for SECONDS; with --abort-every N every N-th is aborted
 * Options: --acks 1|all (default 1), --value-bytes N (default 100), --idempotent true|false
 * (default: the client's: idempotent with acks all), --isolation read_committed|read_uncommitted
 * (consume; default read_uncommitted).
 * Prints one JSON line with its figures.
 */
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import { Sluice } from '../client/sluice.js';

const { positionals, values: options } = parseArgs({
  allowPositionals: true,
  options: {
    acks: { type: 'string', default: '1' }, 'value-bytes': { type: 'string', default: '100' }, idempotent: { type: 'string' },
    isolation: { type: 'string', default: 'read_uncommitted' }, 'abort-every': { type: 'string', default: '0' },
  },
});
const [mode, bootstrap, topic, countText, fourth, rateText] = positionals;
if (options.acks !== '1' && options.acks !== 'all') throw new Error(`--acks must be 1 or all, not ${options.acks}`);
const acks = options.acks === 'all' ? 'all' : 1;
if (options.idempotent !== undefined && options.idempotent !== 'true' && options.idempotent !== 'false') throw new Error(`--idempotent must be true or false, not ${options.idempotent}`);
const idempotence = options.idempotent === undefined ? {} : { idempotent: options.idempotent === 'true' };
const sluice = new Sluice({ bootstrap: bootstrap! });
const value = Buffer.alloc(Number(options['value-bytes']), 'x');

async function produceMax(records: number, compression: 'none' | 'lz4'): Promise<void> {
  const producer = sluice.producer({ acks, compression, lingerMs: 5, batchSize: Math.max(64 * 1024, value.length * 16), bufferMemoryBytes: 64 * 1024 * 1024, ...idempotence });
  // About 200 KB of values per send whatever the record size, so 16 sends in flight fit the buffer.
  const chunk = Math.max(1, Math.round(200_000 / value.length));
  const inflight = new Set<Promise<unknown>>();
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < records; sent += chunk) {
    const messages = new Array(Math.min(chunk, records - sent));
    for (let index = 0; index < messages.length; index += 1) messages[index] = { value };
    const sending = producer.send({ topic: topic!, messages });
    inflight.add(sending);
    void sending.finally(() => inflight.delete(sending));
    if (inflight.size >= 16) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ records, seconds, recordsPerSec: records / seconds, mbps: (records * value.length) / 1024 ** 2 / seconds })}\n`);
}

/**
 * Sends `rate` records/s in 1 ms slots. A slot is never sent early; when the timer wakes late,
 * every slot that is due goes out at once, and each latency counts from its slot's intended
 * time (coordinated omission corrected). The first `warmupMs` run at the same rate unrecorded,
 * so the figures describe a broker whose memory and code are warm.
 */
async function produceAtRate(records: number, compression: 'none' | 'lz4', rate: number, warmupMs = 2000): Promise<void> {
  const producer = sluice.producer({ acks, compression, lingerMs: 0 });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const perSlot = Math.max(1, Math.round(rate / 1000));
  const warmupSlots = Math.round(warmupMs);
  const slots = warmupSlots + Math.ceil(records / perSlot);
  const started = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let slot = 0; slot < slots;) {
    const now = performance.now();
    if (started + slot > now) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, started + slot - now)));
      continue;
    }
    for (; slot < slots && started + slot <= performance.now(); slot += 1) {
      const intended = started + slot;
      const recorded = slot >= warmupSlots;
      const messages = Array.from({ length: perSlot }, () => ({ value }));
      pending.push(producer.send({ topic: topic!, messages }).then(() => {
        if (recorded) histogram.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
      }));
    }
  }
  await Promise.all(pending);
  const ms = (percentile: number) => histogram.getValueAtPercentile(percentile) / 1000;
  process.stdout.write(`${JSON.stringify({ rate, records, warmupMs, p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: histogram.maxValue / 1000 })}\n`);
}

async function consumeAll(partitions: number, records: number): Promise<void> {
  const isolationLevel = options.isolation === 'read_committed' ? 'read_committed' : 'read_uncommitted';
  const consumer = sluice.consumer({ autoOffsetReset: 'earliest', isolationLevel });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic: topic!, partition })));
  const started = process.hrtime.bigint();
  let received = 0;
  let bytes = 0;
  const deadline = Date.now() + 300_000;
  while (received < records && Date.now() < deadline) {
    for (const record of await consumer.poll({ timeoutMs: 1000 })) {
      received += 1;
      bytes += record.value?.length ?? 0;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ records: received, seconds, recordsPerSec: received / seconds, mbps: bytes / 1024 ** 2 / seconds })}\n`);
}

/** Transactions of `size` records back to back for `seconds`; records count once their transaction ends. */
async function transactions(size: number, seconds: number, abortEvery: number): Promise<void> {
  const producer = sluice.producer({ transactionalId: `bench-${topic}-${process.pid}` });
  const messages = Array.from({ length: size }, () => ({ value }));
  let count = 0;
  let committedTransactions = 0;
  const started = process.hrtime.bigint();
  const stopAt = Date.now() + seconds * 1000;
  while (Date.now() < stopAt) {
    const tx = await producer.transaction();
    await tx.send({ topic: topic!, messages });
    count += 1;
    if (abortEvery > 0 && count % abortEvery === 0) await tx.abort();
    else {
      await tx.commit();
      committedTransactions += 1;
    }
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({
    transactions: count, committedTransactions, records: count * size, committedRecords: committedTransactions * size, seconds: elapsed,
    transactionsPerSec: count / elapsed, recordsPerSec: (count * size) / elapsed,
  })}\n`);
}

if (mode === 'transactions') await transactions(Number(countText), Number(fourth), Number(options['abort-every']));
else if (mode === 'produce' && rateText === undefined) await produceMax(Number(countText), fourth as 'none' | 'lz4');
else if (mode === 'produce') await produceAtRate(Number(countText), fourth as 'none' | 'lz4', Number(rateText));
else if (mode === 'consume') await consumeAll(Number(fourth), Number(countText));
await sluice.close();
