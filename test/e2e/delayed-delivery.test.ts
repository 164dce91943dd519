/**
 * Delayed delivery on one broker (behaviours 20–23): records held in the timer log reach their
 * partition when due with x-delayed-from, never early (the broker's append time, the record's
 * timestamp, is ≥ the due time), exactly once, equal due times in produce order; past times
 * fire at once; due times beyond delayed.delivery.max.ms are refused; a topic without the flag
 * is unaffected; a batch mixing delayed and plain records keeps the idempotent producer going;
 * an idempotent resend is not held twice; the CLI's --delay / --deliver-at; a record due after
 * the in-memory window waits on disk; pending records survive a restart.
 * The broker runs with a 1.5 s window moved every 300 ms so the on-disk path is exercised.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { SluiceError } from '../../proto/errors.js';
import { Api, type ProducePartitionResult } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';
import { delayedMetrics, header, readRecords } from '../helpers/delayed.js';
import { RawClient } from '../helpers/raw-client.js';

const windowArgs = ['--delayed-delivery-window-ms', '1500', '--delayed-delivery-refill-ms', '300'];
const delayedConfigs = { 'delayed.delivery.enable': 'true' };

/** One produce request with exactly these batch bytes (a resend is the same bytes again). */
async function rawProduce(port: number, topic: string, records: Buffer): Promise<ProducePartitionResult> {
  const raw = await RawClient.connect(port);
  try {
    raw.send(encodeRequest({
      api: Api.PRODUCE, version: 1, correlationId: 1, clientId: 'delayed-resend',
      produce: { acks: -1, timeoutMs: 5000, topics: [{ name: topic, partitions: [{ partition: 0, records: Buffer.from(records) }] }] },
    }));
    const response = await raw.response(1, 10_000);
    return (response!.produce as { topics: Array<{ partitions: ProducePartitionResult[] }> }).topics[0]!.partitions[0]!;
  } finally {
    raw.close();
  }
}

describe('delayed delivery', () => {
  let broker: BrokerProcess;
  let sluice: Sluice;

  beforeAll(async () => {
    broker = await startBroker({ kafkaPort: 'off', args: windowArgs });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
  });
  afterAll(async () => {
    await sluice?.close();
    await cleanupBrokers();
  });

  it('delivers never early, exactly once, equal due times in produce order, past times at once', async () => {
    await sluice.admin().createTopic('timed', { partitions: 1, configs: delayedConfigs });
    const producer = sluice.producer({ lingerMs: 2 });
    const start = Date.now();
    const tie = start + 1200;
    const sends: Promise<unknown>[] = [];
    for (let index = 0; index < 400; index += 1) {
      // Every fourth record shares one due time; the others spread over 1 s; a few are already past.
      const due = index % 4 === 0 ? tie : index % 50 === 1 ? start - 5000 : start + 200 + ((index * 37) % 1000);
      sends.push(producer.send({ topic: 'timed', messages: [{ value: `r${index}`, headers: { 'x-deliver-at': String(due) } }] }));
    }
    await Promise.all(sends);
    const records = await readRecords(sluice, 'timed', 400, 10_000);
    expect(records).toHaveLength(400);
    const values = records.map((record) => record.value!.toString());
    expect(new Set(values).size).toBe(400);
    expect(new Set(records.map((record) => header(record, 'x-delayed-from'))).size).toBe(400);
    for (const record of records) expect(record.timestamp).toBeGreaterThanOrEqual(Number(header(record, 'x-deliver-at')));
    const ties = values.filter((value) => Number(value.slice(1)) % 4 === 0);
    expect(ties).toEqual(Array.from({ length: 100 }, (_, index) => `r${index * 4}`));
    const past = records.filter((record) => Number(header(record, 'x-deliver-at')) < start);
    for (const record of past) expect(record.timestamp - start).toBeLessThan(2000);
    const metrics = await delayedMetrics(broker.httpPort);
    expect(metrics.early_total).toBe(0);
    expect(metrics.fired_total).toBeGreaterThanOrEqual(400);
  });

  it('refuses due times beyond delayed.delivery.max.ms with INVALID_RECORD naming the config', async () => {
    await sluice.admin().createTopic('bounded', { partitions: 1, configs: { ...delayedConfigs, 'delayed.delivery.max.ms': '60000' } });
    const producer = sluice.producer({ idempotent: false, retries: 0 });
    const error = await producer.send({ topic: 'bounded', messages: [{ value: 'far', headers: { 'x-delay-ms': '120000' } }] }).catch((caught: unknown) => caught);
    expect(SluiceError.is(error) && error.code).toBe('SLUICE_ERR_INVALID_RECORD');
    expect((error as Error).message).toMatch(/delayed\.delivery\.max\.ms=60000/);
    expect((await readRecords(sluice, 'bounded', 1, 300))).toHaveLength(0);
  });

  it('leaves a topic without delayed.delivery.enable alone', async () => {
    await sluice.admin().createTopic('plain', { partitions: 1 });
    const sent = Date.now();
    await sluice.producer().send({ topic: 'plain', messages: [{ value: 'now', headers: { 'x-delay-ms': '60000' } }] });
    const [record] = await readRecords(sluice, 'plain', 1, 5000);
    expect(record!.value!.toString()).toBe('now');
    expect(header(record!, 'x-delayed-from')).toBeUndefined();
    expect(record!.timestamp - sent).toBeLessThan(1000);
  });

  it('splits a mixed batch: plain records now, delayed ones later, the idempotent producer carries on', async () => {
    await sluice.admin().createTopic('mixed', { partitions: 1, configs: delayedConfigs });
    const producer = sluice.producer({ idempotent: true });
    const first = await producer.send({ topic: 'mixed', messages: [{ value: 'a' }, { value: 'b', headers: { 'x-delay-ms': '300' } }, { value: 'c' }] });
    // The client reports base + index; the held record's place (1) stays a gap, its copy lands when due.
    expect(first.map((sent) => sent.offset)).toEqual([0, 1, 2]);
    const second = await producer.send({ topic: 'mixed', messages: [{ value: 'd' }] });
    expect(second[0]!.offset).toBe(3);
    const records = await readRecords(sluice, 'mixed', 4, 5000);
    expect(records.map((record) => [record.offset, record.value!.toString()])).toEqual([[0, 'a'], [2, 'c'], [3, 'd'], [4, 'b']]);
  });

  it('answers an idempotent resend as a duplicate and holds its delayed records once', async () => {
    await sluice.admin().createTopic('resent', { partitions: 1, configs: delayedConfigs });
    const due = String(Date.now() + 300);
    const batch = buildRecordBatch([
      { key: null, value: Buffer.from('held-1'), headers: [{ key: 'x-deliver-at', value: Buffer.from(due) }] },
      { key: null, value: Buffer.from('plain') },
      { key: null, value: Buffer.from('held-2'), headers: [{ key: 'x-deliver-at', value: Buffer.from(due) }] },
    ], { producerId: 5000, producerEpoch: 0, baseSequence: 0 });
    const first = await rawProduce(broker.port, 'resent', batch);
    expect(await rawProduce(broker.port, 'resent', batch)).toEqual(first);
    expect(first).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const records = await readRecords(sluice, 'resent', 4, 2000);
    expect(records.map((record) => record.value!.toString())).toEqual(['plain', 'held-1', 'held-2']);
  });

  it('sluice produce --delay and --deliver-at hold each line until due', async () => {
    await sluice.admin().createTopic('cli', { partitions: 1, configs: delayedConfigs });
    const sent = Date.now();
    const delayed = await runCli(['produce', 'cli', '--bootstrap', broker.bootstrap, '--delay', '0.4s'], { input: 'in-400ms\n' });
    expect(delayed.code, delayed.stderr).toBe(0);
    const at = Date.now() + 300;
    const scheduled = await runCli(['produce', 'cli', '--bootstrap', broker.bootstrap, '--deliver-at', new Date(at).toISOString()], { input: 'at\n' });
    expect(scheduled.code, scheduled.stderr).toBe(0);
    const records = await readRecords(sluice, 'cli', 2, 5000);
    const byValue = new Map(records.map((record) => [record.value!.toString(), record]));
    expect(header(byValue.get('in-400ms')!, 'x-delay-ms')).toBe('400');
    expect(byValue.get('in-400ms')!.timestamp - sent).toBeGreaterThanOrEqual(400);
    expect(byValue.get('at')!.timestamp).toBeGreaterThanOrEqual(at);
  });

  it('keeps a record due after the window on disk, then fires it; pending records survive a restart', async () => {
    await sluice.admin().createTopic('later', { partitions: 1, configs: delayedConfigs });
    const due = Date.now() + 4000;
    await sluice.producer().send({ topic: 'later', messages: [{ value: 'x', headers: { 'x-deliver-at': String(due) } }] });
    expect((await delayedMetrics(broker.httpPort)).backlog_on_disk).toBe(1);
    await waitFor('the window to reach the record', async () => (await delayedMetrics(broker.httpPort)).backlog_in_memory === 1, 4000);
    // Restart while it is pending: it is recovered from the timer log, and fires once.
    await sluice.close();
    expect((await broker.stop('SIGTERM')).code).toBe(0);
    broker = await startBroker({ kafkaPort: 'off', args: windowArgs, dataDirectory: broker.dataDirectory, port: broker.port });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    const records = await readRecords(sluice, 'later', 2, 6000);
    expect(records).toHaveLength(1);
    expect(records[0]!.timestamp).toBeGreaterThanOrEqual(due);
  });
});
