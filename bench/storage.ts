/**
 * Storage benchmark: appends ≥ 1 GiB of 100-byte records in ~16 KiB batches to a partition
 * log across several segments, reads it all back, and measures in the same run what this
 * machine does without Sluice: sequential fs.writeSync of the same bytes in the same chunks
 * (rawWriteMBps) and Buffer.copy bandwidth (memcpyMBps). Absolute numbers drift on shared
 * machines; the ratios to those baselines are what to compare.
 *
 *   npm run bench:storage -- [--json] [--gib N] [--dir PATH]
 *
 * With --json the last line of stdout is one JSON object with every figure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { batchLastOffset, buildRecordBatch } from '../proto/record-batch/record-batch.js';
import { Log } from '../broker/storage/log.js';
import { barChart } from './report.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    gib: { type: 'string', default: '1' },
    dir: { type: 'string' },
    'record-bytes': { type: 'string', default: '100' },
    'batch-bytes': { type: 'string', default: '16384' },
  },
});

const recordBytes = Number(values['record-bytes']);
const batchBytesTarget = Number(values['batch-bytes']);
const totalBytes = Number(values.gib) * 1024 ** 3;
const segmentBytes = 256 * 1024 * 1024;
const readChunkBytes = 1024 * 1024;
const root = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'sluice-bench-storage-'));
const progress = (text: string) => process.stderr.write(`${text}\n`);

function makeBatches(): { batches: Buffer[]; recordsPerBatch: number } {
  // ~9 bytes of record framing per 100-byte value: fill each batch up to the 16 KiB target.
  const recordsPerBatch = Math.floor((batchBytesTarget - 61) / (recordBytes + 10));
  const batches: Buffer[] = [];
  for (let variant = 0; variant < 32; variant += 1) {
    const records = Array.from({ length: recordsPerBatch }, (_, index) => ({
      key: null,
      value: Buffer.alloc(recordBytes, (variant * 7 + index) % 251),
      timestamp: 1_700_000_000_000 + variant,
    }));
    batches.push(buildRecordBatch(records));
  }
  return { batches, recordsPerBatch };
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function rawWrite(batches: Buffer[]): number {
  const file = path.join(root, 'raw.bin');
  const fd = fs.openSync(file, 'w');
  const start = process.hrtime.bigint();
  let written = 0;
  for (let index = 0; written < totalBytes; index += 1) {
    const batch = batches[index % batches.length]!;
    fs.writeSync(fd, batch);
    written += batch.length;
  }
  const elapsed = seconds(start);
  fs.closeSync(fd);
  fs.rmSync(file);
  return written / 1024 ** 2 / elapsed;
}

function append(round: number, batches: Buffer[], recordsPerBatch: number): { mbps: number; recordsPerSec: number; log: Log } {
  const log = Log.open(path.join(root, `log-${round}`), { config: { segmentBytes } });
  let written = 0;
  let records = 0;
  let nextReport = 256 * 1024 ** 2;
  const start = process.hrtime.bigint();
  for (let index = 0; written < totalBytes; index += 1) {
    const batch = batches[index % batches.length]!;
    log.append(batch);
    written += batch.length;
    records += recordsPerBatch;
    if (written >= nextReport) {
      progress(`  appended ${(written / 1024 ** 2).toFixed(0)} MiB (${log.segmentCount} segments)`);
      nextReport += 256 * 1024 ** 2;
    }
  }
  const elapsed = seconds(start);
  return { mbps: written / 1024 ** 2 / elapsed, recordsPerSec: records / elapsed, log };
}

/** Fetch-path read: slices of the mapping, copied out once as a socket write would. */
function read(log: Log): number {
  const target = Buffer.allocUnsafe(readChunkBytes * 2);
  let offset = log.logStartOffset;
  let bytes = 0;
  const start = process.hrtime.bigint();
  while (offset < log.logEndOffset) {
    const { slices } = log.read(offset, readChunkBytes);
    for (const slice of slices) {
      slice.copy(target, 0, 0, Math.min(slice.length, target.length));
      bytes += slice.length;
    }
    offset = nextOffsetAfter(slices[slices.length - 1]!);
  }
  return bytes / 1024 ** 2 / seconds(start);
}

/** One past the last offset of the last batch in `slice`, read from the batch headers. */
function nextOffsetAfter(slice: Buffer): number {
  let position = 0;
  let next = 0;
  while (position < slice.length) {
    next = batchLastOffset(slice, position) + 1;
    position += 12 + slice.readInt32BE(position + 8);
  }
  return next;
}

function memcpy(): number {
  const source = Buffer.alloc(256 * 1024 * 1024, 7);
  const target = Buffer.allocUnsafe(readChunkBytes);
  const start = process.hrtime.bigint();
  let copied = 0;
  while (copied < totalBytes) {
    for (let position = 0; position < source.length; position += readChunkBytes) {
      source.copy(target, 0, position, position + readChunkBytes);
    }
    copied += source.length;
  }
  return copied / 1024 ** 2 / seconds(start);
}

/**
 * Raw writes and log appends alternate, twice each, and the best of each counts: on a virtual
 * machine the first touch of fresh memory is slow (the host faults it in), and the kernel's
 * writeback of one phase can overlap the next, so a single pass mostly measures the order.
 */
async function main(): Promise<void> {
  const { batches, recordsPerBatch } = makeBatches();
  progress(`storage bench: ${(totalBytes / 1024 ** 3).toFixed(2)} GiB, ${recordBytes}-byte records, ${batches[0]!.length}-byte batches (${recordsPerBatch} records), segments of ${segmentBytes / 1024 ** 2} MiB, in ${root}`);
  const raws: number[] = [];
  const appends: Array<{ mbps: number; recordsPerSec: number }> = [];
  let log: Log | undefined;
  for (let round = 1; round <= 2; round += 1) {
    progress(`round ${round}: raw fs.writeSync baseline ...`);
    raws.push(rawWrite(batches));
    log?.delete();
    progress(`round ${round}: append through the log ...`);
    const appended = append(round, batches, recordsPerBatch);
    appends.push(appended);
    log = appended.log;
  }
  // Reads are measured once the appends are on disk, so writeback does not compete with them.
  await log!.flush();
  progress('read back through the log ...');
  const readMBps = read(log!);
  const segments = log!.segmentCount;
  log!.close();
  progress('baseline: memcpy ...');
  const memcpyMBps = memcpy();
  fs.rmSync(root, { recursive: true, force: true });

  const best = appends.reduce((a, b) => (b.mbps > a.mbps ? b : a));
  const rawWriteMBps = Math.max(...raws);
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`,
    totalBytes, recordBytes, batchBytes: batches[0]!.length, segments,
    appendMBps: round(best.mbps),
    appendRecordsPerSec: Math.round(best.recordsPerSec),
    rawWriteMBps: round(rawWriteMBps),
    readMBps: round(readMBps),
    memcpyMBps: round(memcpyMBps),
    appendVsRawWrite: round(best.mbps / rawWriteMBps, 2),
    readVsMemcpy: round(readMBps / memcpyMBps, 2),
    rounds: { appendMBps: appends.map((a) => round(a.mbps)), rawWriteMBps: raws.map((r) => round(r)) },
  };
  progress('');
  progress(barChart('MB/s, same run (best of 2 rounds for writes)', [
    ['append (log)', result.appendMBps],
    ['raw writeSync', result.rawWriteMBps],
    ['read (log)', result.readMBps],
    ['memcpy', result.memcpyMBps],
  ]));
  progress(`append / raw write = ${result.appendVsRawWrite} (target ≥ 1.0), read / memcpy = ${result.readVsMemcpy} (target ≥ 0.5)`);
  progress(`${result.appendRecordsPerSec.toLocaleString('en-US')} records/s appended`);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

await main();
