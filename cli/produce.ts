/**
 * `sluice produce TOPIC`: sends each stdin line as a record. Sends are pipelined (a window of
 * them in flight), so a broker that cannot store shows at once: the first delivery error is
 * printed as soon as it happens, reading goes on to the end of input as kcat does, and the
 * command then exits non-zero with a count of the records not confirmed. Every record is
 * given up at most --delivery-timeout-ms after it was read.
 *
 * The producer is idempotent by default (no record stored twice by a retry); --no-idempotence
 * is the at-least-once producer. With --transactional-id the whole input is one transaction,
 * committed at the end of input, or aborted (and the command exits non-zero) if any record
 * failed: consumers reading read_committed see all of it or none.
 *
 * --delay / --deliver-at add the delayed-delivery headers (x-delay-ms, x-deliver-at) to every
 * record; the topic needs delayed.delivery.enable=true, and its partitions receive the records
 * when due (until then a record's offset is reported as -1).
 */
import readline from 'node:readline';
import { type Command, Option } from 'commander';
import type { ProducerRecord, RecordMetadata } from '../client/producer.js';
import type { Transaction } from '../client/transaction.js';
import { type Compression, compressionTypes } from '../proto/record-batch/compression-codec.js';
import { connect } from './connect.js';
import { describeError } from './describe-error.js';
import { wholeNumber, withBootstrap, withExamples } from './options.js';
import { parseDuration, parseTime } from './parse-time.js';

/** Lines sent per send() call: enough to fill batches, few enough to bound memory. */
const linesPerSend = 1000;
/** Sends not yet settled before reading pauses. */
const sendsInFlightMax = 32;

interface ProduceFlags {
  keySeparator?: string;
  acks: '0' | '1' | 'all' | '-1';
  compression: Compression;
  lingerMs: number;
  deliveryTimeoutMs: number;
  /** False with --no-idempotence. */
  idempotence: boolean;
  transactionalId?: string;
  delay?: number;
  deliverAt?: number;
}

export function produceCommand(program: Command): void {
  const command = withBootstrap(program.command('produce'))
    .argument('<topic>', 'topic to write to')
    .description('send stdin lines as records (null keys spread over partitions, keys hashed as Kafka does)')
    .option('--key-separator <sep>', 'split each line at the first SEP into key and value')
    .addOption(new Option('--acks <acks>', 'acknowledgement: 0 (none), 1 (leader), all').choices(['0', '1', 'all', '-1']).default('all'))
    .addOption(new Option('--compression <codec>', 'batch compression').choices(compressionTypes).default('none'))
    .option('--linger-ms <ms>', 'how long a batch waits to fill', wholeNumber(0), 5)
    .option('--delivery-timeout-ms <ms>', 'give up on a record this long after it was read, retries included', wholeNumber(1), 120_000)
    .option('--no-idempotence', 'at-least-once: no producer id or sequence numbers (a retry after a lost answer may store a batch twice); the default is idempotent with --acks all')
    .option('--transactional-id <id>', 'send the whole input as one transaction, committed at the end of input (aborted, exit 1, if any record failed)')
    .option('--delay <duration>', 'deliver each record this long after the broker receives it (30s, 5m, 2h; header x-delay-ms; the topic needs delayed.delivery.enable=true)', (text: string) => parseDuration(text, '--delay'))
    .option('--deliver-at <time>', 'deliver each record at this time (ISO 8601 or epoch ms; header x-deliver-at)', (text: string) => parseTime(text, '--deliver-at'))
    .action((topic: string, flags: ProduceFlags, self: Command) => produce(topic, flags, self));
  withExamples(command, 'sluice produce orders --acks all < orders.txt', 'printf \'k1:v1\\nk2:v2\\n\' | sluice produce orders --key-separator :',
    'sluice produce orders --transactional-id orders-import < orders.txt', 'echo remind-me | sluice produce reminders --delay 30s');
}

async function produce(topic: string, flags: ProduceFlags, command: Command): Promise<void> {
  const acks = flags.acks === 'all' || flags.acks === '-1' ? -1 : flags.acks === '1' ? 1 : 0;
  const separator = flags.keySeparator;
  const headers = delayHeaders(flags);
  const [sluice, { DeliveryError }] = await Promise.all([connect(command), import('../client/producer.js')]);
  const producer = sluice.producer({
    acks, compression: flags.compression, lingerMs: flags.lingerMs, deliveryTimeoutMs: flags.deliveryTimeoutMs,
    ...(flags.idempotence === false ? { idempotent: false } : {}),
    ...(flags.transactionalId === undefined ? {} : { transactionalId: flags.transactionalId }),
  });
  let transaction: Transaction | undefined;
  const started = Date.now();
  let read = 0;
  const delivered = { records: 0, bytes: 0, partitions: new Set<number>() };
  const failed = { records: 0, first: undefined as unknown };
  const inflight: Array<Promise<void>> = [];
  let pending: ProducerRecord[] = [];
  const sendPending = async () => {
    const messages = pending;
    pending = [];
    if (messages.length === 0) return;
    const count = (sent: Array<RecordMetadata | undefined>) => {
      sent.forEach((record, index) => {
        if (record === undefined) return;
        delivered.records += 1;
        const message = messages[index]!;
        delivered.bytes += Buffer.byteLength(message.value as string) + (message.key == null ? 0 : Buffer.byteLength(message.key as string));
        delivered.partitions.add(record.partition);
      });
    };
    inflight.push((transaction ?? producer).send({ topic, messages }).then(count, (error: unknown) => {
      // Partitions fail on their own: what reached the others is delivered all the same.
      if (error instanceof DeliveryError) count(error.results);
      failed.records += error instanceof DeliveryError ? error.failedRecords : messages.length;
      if (failed.first !== undefined) return;
      failed.first = error;
      process.stderr.write(`sluice: ${describeError(error)}\n`);
    }));
    while (inflight.length > sendsInFlightMax) await inflight.shift();
  };
  let outcome = '';
  try {
    if (flags.transactionalId !== undefined) transaction = await producer.transaction();
    for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const cut = separator === undefined ? -1 : line.indexOf(separator);
      const record: ProducerRecord = cut < 0 ? { value: line } : { key: line.slice(0, cut), value: line.slice(cut + separator!.length) };
      if (headers !== undefined) record.headers = headers;
      pending.push(record);
      read += 1;
      if (pending.length >= linesPerSend) await sendPending();
    }
    await sendPending();
    await Promise.all(inflight);
    if (transaction !== undefined) outcome = await endTransaction(transaction, flags.transactionalId!, failed);
  } catch (error) {
    // A failure outside a send (the transaction could not start, or stdin broke): nothing of an open transaction stays.
    if (transaction?.isActive()) await transaction.abort().catch(() => {});
    throw error;
  } finally {
    await sluice.close();
  }
  const seconds = (Date.now() - started) / 1000;
  if (outcome !== '') process.stderr.write(`${outcome}\n`);
  if (transaction !== undefined && failed.records > 0) delivered.records = 0;
  if (delivered.records > 0 || failed.records === 0) process.stderr.write(`produced ${delivered.records} records (${delivered.bytes} bytes) to ${topic} across ${delivered.partitions.size} partition(s) in ${seconds.toFixed(2)} s\n`);
  if (failed.records > 0) {
    process.stderr.write(`sluice: ${failed.records} of ${read} records were not confirmed delivered (the first error is above)\n`);
    process.exitCode = 1;
  }
}

/** The delayed-delivery header every record carries, if --delay or --deliver-at was given. */
function delayHeaders(flags: ProduceFlags): Record<string, string> | undefined {
  if (flags.delay !== undefined && flags.deliverAt !== undefined) throw new Error('give --delay or --deliver-at, not both');
  if (flags.delay !== undefined) return { 'x-delay-ms': String(flags.delay) };
  if (flags.deliverAt !== undefined) return { 'x-deliver-at': String(flags.deliverAt) };
  return undefined;
}

/** Commits the input's transaction, or aborts it when a record failed (or the commit did); says which. */
async function endTransaction(transaction: Transaction, transactionalId: string, failed: { records: number; first: unknown }): Promise<string> {
  if (failed.records === 0) {
    try {
      await transaction.commit();
      return `committed transaction ${transactionalId}`;
    } catch (error) {
      failed.first = error;
      failed.records = Math.max(failed.records, 1);
      process.stderr.write(`sluice: the commit failed: ${describeError(error)}\n`);
    }
  }
  try {
    await transaction.abort();
    return `aborted transaction ${transactionalId}: none of its records will be read by read_committed consumers`;
  } catch (error) {
    return `could not abort transaction ${transactionalId} (${describeError(error)}); the coordinator aborts it after its timeout`;
  }
}
