/**
 * One load-generating process of `sluice bench` (forked with an IPC channel, one per
 * producer or consumer, so the load uses every core). Every second it sends the coordinator
 * what it did in that second (records, bytes, and an HDR histogram of latencies); at the end
 * a final message, or an error message when the broker becomes unreachable.
 *
 * Latency: a producer at a fixed rate gives each record its intended send time (record
 * timestamp, refined to microseconds in the first 8 bytes of the value), so both send-to-ack
 * and send-to-receive latencies count from when the record should have gone out, not when it
 * did (coordinated omission corrected).
 */
import fs from 'node:fs';
import hdr from 'hdr-histogram-js';
import type { Consumer } from '../../client/consumer.js';
import { keyPartition } from '../../client/partitioner.js';
import { DeliveryError, type Producer, type ProducerRecord } from '../../client/producer.js';
import { Sluice } from '../../client/sluice.js';
import { AckRecorder, verifyHeaders } from '../verify.js';
import type { WorkerMessage, WorkerTask } from './messages.js';

const histogramOptions = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 } as const;

/** Wall-clock microseconds, comparable across processes on one machine. */
const nowMicros = () => (performance.timeOrigin + performance.now()) * 1000;

class Meter {
  records = 0;
  bytes = 0;
  histogram = hdr.build(histogramOptions);
  totalRecords = 0;

  add(records: number, bytes: number): void {
    this.records += records;
    this.bytes += bytes;
    this.totalRecords += records;
  }

  /** Sends this second's figures and starts the next second. */
  flush(): void {
    send({ kind: 'tick', records: this.records, bytes: this.bytes, histogram: hdr.encodeIntoCompressedBase64(this.histogram) });
    this.records = 0;
    this.bytes = 0;
    this.histogram.reset();
  }
}

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function makeKey(task: WorkerTask, sequence: number): Buffer | null {
  if (task.keys === 'none') return null;
  const distinct = task.keys === 'random' ? 0 : Number(task.keys);
  const key = distinct > 0 ? sequence % distinct : Math.floor(Math.random() * 2 ** 31);
  return Buffer.from(`key-${key}`);
}

/** Consecutive records a verifying producer sends to one partition before moving to the next. */
const verifyRunLength = 100;

/** What a verifying producer knows at the end: which records were acknowledged, how many failed. */
interface VerifyState {
  recorder: AckRecorder;
  failed: number;
}

async function produce(task: WorkerTask, producer: Producer, meter: Meter, stopAt: number, verify: VerifyState | undefined): Promise<void> {
  const template = Buffer.alloc(task.recordBytes, 'x');
  const perSend = task.rate === undefined ? 500 : Math.max(1, Math.round(task.rate / 1000));
  const started = performance.now();
  const inflight = new Set<Promise<void>>();
  let sequence = 0;
  for (let slot = 0; sequence < task.records && Date.now() < stopAt; slot += 1) {
    const intended = started + slot;
    if (task.rate !== undefined) {
      const wait = intended - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const intendedMicros = (performance.timeOrigin + (task.rate === undefined ? performance.now() : intended)) * 1000;
    const count = Math.min(perSend, task.records - sequence);
    const messages = new Array<ProducerRecord>(count);
    const first = sequence;
    for (let index = 0; index < count; index += 1) {
      const value = Buffer.from(template);
      value.writeDoubleBE(intendedMicros, 0);
      const key = makeKey(task, sequence + index);
      messages[index] = { key, value, timestamp: Math.floor(intendedMicros / 1000) };
      if (task.verify !== undefined) {
        const { partitionCount, producerId } = task.verify;
        const partition = key === null ? Math.floor((sequence + index) / verifyRunLength) % partitionCount : keyPartition(key, partitionCount);
        Object.assign(messages[index]!, { partition, headers: verifyHeaders(producerId, sequence + index, partition) });
      }
    }
    sequence += count;
    const acknowledged = (index: number) => verify?.recorder.acknowledged(first + index, messages[index]!.partition!);
    const sending = producer.send({ topic: task.topic, messages }).then(() => {
      if (verify !== undefined) for (let index = 0; index < count; index += 1) acknowledged(index);
      meter.add(count, count * task.recordBytes);
      meter.histogram.recordValue(Math.max(1, Math.round(nowMicros() - intendedMicros)));
    }, (error: unknown) => {
      // A verify run goes on through failures: they are what it is there to look at.
      if (verify === undefined) throw error;
      const results = error instanceof DeliveryError ? error.results : [];
      let delivered = 0;
      results.forEach((result, index) => {
        if (result === undefined) return;
        acknowledged(index);
        delivered += 1;
      });
      verify.failed += count - delivered;
      meter.add(delivered, delivered * task.recordBytes);
    });
    inflight.add(sending);
    void sending.finally(() => inflight.delete(sending));
    if (inflight.size >= 16) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

/**
 * A transactional producer: `recordsPerTxn` records per transaction (sent 500 per send, all
 * in flight at once), committed before the next one starts; records count once committed.
 * Returns the transactions committed.
 */
async function produceTransactions(task: WorkerTask, producer: Producer, meter: Meter, stopAt: number, recordsPerTxn: number): Promise<number> {
  const template = Buffer.alloc(task.recordBytes, 'x');
  let sequence = 0;
  let committed = 0;
  while (sequence < task.records && Date.now() < stopAt) {
    const started = nowMicros();
    const transaction = await producer.transaction();
    const inTxn = Math.min(recordsPerTxn, task.records - sequence);
    const sends = [];
    for (let sent = 0; sent < inTxn; sent += 500) {
      const count = Math.min(500, inTxn - sent);
      const messages = new Array<ProducerRecord>(count);
      for (let index = 0; index < count; index += 1) messages[index] = { key: makeKey(task, sequence + sent + index), value: template };
      sends.push(transaction.send({ topic: task.topic, messages }));
    }
    try {
      await Promise.all(sends);
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
    sequence += inTxn;
    committed += 1;
    meter.add(inTxn, inTxn * task.recordBytes);
    meter.histogram.recordValue(Math.max(1, Math.round(nowMicros() - started)));
  }
  return committed;
}

async function consume(task: WorkerTask, consumer: Consumer, meter: Meter, stopAt: number): Promise<void> {
  consumer.assign(task.partitions.map((partition) => ({ topic: task.topic, partition })));
  // e2e: start at the live end, so only records sent during the run are counted.
  for (const partition of task.partitions) await consumer.seek(task.topic, partition, task.measureLatency ? 'latest' : 'earliest');
  send({ kind: 'ready' });
  while (meter.totalRecords < task.records && Date.now() < stopAt) {
    const records = await consumer.poll({ timeoutMs: 200 });
    const now = nowMicros();
    let bytes = 0;
    for (const record of records) {
      bytes += record.value?.length ?? 0;
      if (task.measureLatency && record.value !== null && record.value.length >= 8) {
        meter.histogram.recordValue(Math.max(1, Math.round(now - record.value.readDoubleBE(0))));
      }
    }
    meter.add(records.length, bytes);
  }
}

async function run(task: WorkerTask): Promise<void> {
  const sluice = new Sluice({ bootstrap: task.bootstrap, clientId: `bench-${task.role}-${task.index}`, connectTimeoutMs: 2000, requestTimeoutMs: 10_000 });
  const meter = new Meter();
  const ticker = setInterval(() => meter.flush(), 1000);
  const stopAt = task.durationMs === undefined ? Infinity : Date.now() + task.durationMs;
  const verify: VerifyState | undefined = task.verify === undefined ? undefined : { recorder: new AckRecorder(task.verify.producerId), failed: 0 };
  // Written every second and before the coordinator hears of the end (it may kill this process
  // at once): a killed worker's last second of acknowledgements is not claimed, never the reverse.
  const writeAcks = () => {
    if (task.verify === undefined || verify === undefined) return;
    fs.writeFileSync(`${task.verify.ackFile}.tmp`, JSON.stringify(verify.recorder.toJSON()));
    fs.renameSync(`${task.verify.ackFile}.tmp`, task.verify.ackFile);
  };
  const ackTicker = verify === undefined ? undefined : setInterval(writeAcks, 1000);
  let transactions: number | undefined;
  try {
    if (task.role === 'producer') {
      const producer = sluice.producer({
        acks: task.acks, compression: task.compression, batchSize: task.batchSize, lingerMs: task.lingerMs, retryBackoffMs: 100,
        // A verify run retries through leader changes and dead brokers, bounded by the delivery timeout; a load run fails fast.
        ...(verify === undefined ? { retries: 2 } : { deliveryTimeoutMs: 60_000 }),
        ...(task.idempotent === undefined ? {} : { idempotent: task.idempotent }),
        ...(task.transaction === undefined ? {} : { transactionalId: task.transaction.transactionalId }),
      });
      if (task.transaction !== undefined) transactions = await produceTransactions(task, producer, meter, stopAt, task.transaction.recordsPerTxn);
      else await produce(task, producer, meter, stopAt, verify);
    } else {
      const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 100 });
      await consume(task, consumer, meter, stopAt);
    }
    clearInterval(ticker);
    meter.flush();
    clearInterval(ackTicker);
    writeAcks();
    send({ kind: 'done', totalRecords: meter.totalRecords, ...(verify === undefined ? {} : { failedRecords: verify.failed }), ...(transactions === undefined ? {} : { transactions }) });
  } catch (error) {
    clearInterval(ticker);
    meter.flush();
    clearInterval(ackTicker);
    writeAcks();
    send({ kind: 'error', message: error instanceof Error ? error.message : String(error), totalRecords: meter.totalRecords });
  } finally {
    await Promise.race([sluice.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
}

process.once('message', (task: WorkerTask) => {
  run(task).finally(() => process.disconnect?.());
});
