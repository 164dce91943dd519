/**
 * Produce-validation micro-benchmark: what the broker spends checking one producer batch
 * (validateProducerBatch: CRC-32C, header rules, a walk of every record, decompression for
 * compressed batches; every codec) on realistic batches of ~16 KiB of 100-byte records, next to what
 * this machine needs just to copy the same bytes (Buffer.copy, measured in the same run) and
 * to the header-and-CRC check alone (checkBatch, what produce did before the record walk).
 * Absolute numbers drift on shared machines; compare the ratios.
 *
 *   npm run bench:validate -- [--json] [--ms 500]
 *
 * With --json the last line of stdout is one JSON object with every figure.
 */
import { parseArgs } from 'node:util';
import { compressionTypes } from '../proto/record-batch/compression.js';
import { buildRecordBatch, checkBatch, type Compression, validateProducerBatch } from '../proto/record-batch/record-batch.js';
import { barChart } from './report.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    ms: { type: 'string', default: '500' },
  },
});
const caseMs = Number(values.ms);
const batchBytesTarget = 16 * 1024;
const recordBytes = 100;
const distinctBatches = 64;
const maxMessageBytes = 1024 * 1024 + 12;

/** Keyed records with values half text, half pseudo-random: codecs gain about 2×, as on real payloads. */
function makeBatches(compression: Compression): Buffer[] {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const recordsPerBatch = Math.floor((batchBytesTarget - 61) / (recordBytes + 26));
  return Array.from({ length: distinctBatches }, (_, batchIndex) => buildRecordBatch(Array.from({ length: recordsPerBatch }, (_, index) => {
    const value = Buffer.alloc(recordBytes, `order ${batchIndex}-${index} status=shipped `);
    for (let byte = recordBytes / 2; byte < recordBytes; byte += 1) value[byte] = random() & 0xff;
    return { key: Buffer.from(`customer-${random() % 100_000}`), value, timestamp: Date.now() };
  }), { compression }));
}

interface Figure {
  name: string;
  nsPerBatch: number;
  mbPerSecond: number;
  batchBytes: number;
}

/** Runs `work` over the batches for about caseMs after a warm-up; bytes are the batches' own. */
function measure(name: string, batches: Buffer[], work: (batch: Buffer) => void): Figure {
  const bytes = batches.reduce((total, batch) => total + batch.length, 0) / batches.length;
  for (let warm = 0; warm < 2000; warm += 1) work(batches[warm % batches.length]!);
  let runs = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(caseMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let index = 0; index < batches.length; index += 1) work(batches[index]!);
    runs += batches.length;
    now = process.hrtime.bigint();
  }
  const nsPerBatch = Number(now - start) / runs;
  return { name, nsPerBatch, mbPerSecond: (bytes / nsPerBatch) * 1000, batchBytes: Math.round(bytes) };
}

const target = Buffer.allocUnsafe(2 * batchBytesTarget);
const figures: Figure[] = [];
for (const compression of compressionTypes) {
  const batches = makeBatches(compression);
  figures.push(measure(`memcpy (${compression})`, batches, (batch) => {
    batch.copy(target, 0);
  }));
  figures.push(measure(`checkBatch: header + CRC (${compression})`, batches, (batch) => {
    checkBatch(batch, 0, batch.length);
  }));
  figures.push(measure(`validateProducerBatch (${compression})`, batches, (batch) => {
    validateProducerBatch(batch, maxMessageBytes);
  }));
}

const byName = new Map(figures.map((figure) => [figure.name, figure]));
const ratios = Object.fromEntries(compressionTypes.map((compression) => {
  const memcpy = byName.get(`memcpy (${compression})`)!.nsPerBatch;
  const crc = byName.get(`checkBatch: header + CRC (${compression})`)!.nsPerBatch;
  const validate = byName.get(`validateProducerBatch (${compression})`)!.nsPerBatch;
  return [compression, { validateOverMemcpy: validate / memcpy, validateOverCrc: validate / crc }];
}));

for (const figure of figures) {
  process.stdout.write(`${figure.name.padEnd(42)} ${figure.nsPerBatch.toFixed(0).padStart(8)} ns/batch  ${figure.mbPerSecond.toFixed(0).padStart(7)} MB/s  (${figure.batchBytes} B/batch)\n`);
}
for (const [compression, ratio] of Object.entries(ratios)) {
  process.stdout.write(`${compression}: validate = ${ratio.validateOverMemcpy.toFixed(1)}× memcpy, ${ratio.validateOverCrc.toFixed(2)}× checkBatch\n`);
}
process.stdout.write(`${barChart('MB/s (batch bytes as sent)', figures.map((figure) => [figure.name, Math.round(figure.mbPerSecond)]))}\n`);
if (values.json) process.stdout.write(`${JSON.stringify({ caseMs, figures, ratios })}\n`);
