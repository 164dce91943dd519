/**
 * Child process of bench/kafka.ts: KafkaJS (an unmodified Kafka client) against the broker's
 * Kafka listener, so it does not share a thread with the bench or the broker. Modes:
 *   produce BOOTSTRAP TOPIC RECORDS  — 100-byte values, null keys, acks=1, as fast as it can
 *       with up to 16 sends of ~2,000 records in flight (what bench/e2e-worker.ts does with
 *       Sluice's client)
 *   consume BOOTSTRAP TOPIC RECORDS  — a group consumer from the earliest offset until RECORDS
 *       came (KafkaJS has no group-less consumer); the clock starts before it joins the group
 * Options: --value-bytes N (default 100).
 * Prints one JSON line with its figures; any error KafkaJS logs ends the run with exit code 1.
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const { positionals, values: options } = parseArgs({
  allowPositionals: true,
  options: { 'value-bytes': { type: 'string', default: '100' } },
});
const [mode, bootstrap, topic, countText] = positionals;
const records = Number(countText);
const value = Buffer.alloc(Number(options['value-bytes']), 'x');
const errors: string[] = [];
const kafka = new Kafka({
  clientId: 'sluice-bench-kafkajs',
  brokers: bootstrap!.split(','),
  logLevel: logLevel.ERROR,
  logCreator: () => ({ namespace, log }) => {
    errors.push(`${namespace}: ${log.message}`);
    process.stderr.write(`kafkajs error ${namespace}: ${log.message}\n`);
  },
});

async function produce(): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  const chunk = Math.max(1, Math.round(200_000 / value.length));
  const inflight = new Set<Promise<unknown>>();
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < records; sent += chunk) {
    const messages = new Array(Math.min(chunk, records - sent));
    for (let index = 0; index < messages.length; index += 1) messages[index] = { value };
    const sending = producer.send({ topic: topic!, acks: 1, messages });
    inflight.add(sending);
    void sending.finally(() => inflight.delete(sending));
    if (inflight.size >= 16) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect();
  report(records, records * value.length, seconds);
}

async function consume(): Promise<void> {
  const consumer = kafka.consumer({ groupId: `sluice-bench-${topic}` });
  const started = process.hrtime.bigint();
  await consumer.connect();
  await consumer.subscribe({ topic: topic!, fromBeginning: true });
  let received = 0;
  let bytes = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => { finished = resolve; });
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) bytes += message.value?.length ?? 0;
      received += batch.messages.length;
      if (received >= records) finished();
    },
  });
  const timer = setTimeout(finished, 300_000);
  await done;
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.disconnect();
  report(received, bytes, seconds);
}

function report(count: number, bytes: number, seconds: number): void {
  process.stdout.write(`${JSON.stringify({ records: count, seconds, recordsPerSec: count / seconds, mbps: bytes / 1024 ** 2 / seconds, errors })}\n`);
}

if (mode === 'produce') await produce();
else if (mode === 'consume') await consume();
else throw new Error(`mode must be produce or consume, not ${mode}`);
process.exitCode = errors.length === 0 ? 0 : 1;
