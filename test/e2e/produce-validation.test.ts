/**
 * The broker checks every record of a produced batch before storing it (Kafka's
 * LogValidator): a batch whose CRC is right but whose records are not is refused with
 * INVALID_RECORD and stores nothing, an LZ4 bomb costs nothing, record timestamps are held to
 * message.timestamp.before/after.max.ms, and message.timestamp.type=LogAppendTime stamps the
 * broker's time. Real broker process, raw protocol client for what no producer sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { errorCodes, SluiceError } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { craftBatch, emptyBlocksFrame, goodRecords, rawRecords } from '../helpers/crafted-batches.js';
import { RawClient } from '../helpers/raw-client.js';

const wire = (code: keyof typeof errorCodes) => errorCodes[code].wire;
const hour = 3_600_000;
let broker: BrokerProcess;
let sluice: Sluice;
let raw: RawClient;
let correlationId = 0;

beforeAll(async () => {
  broker = await startBroker();
  sluice = new Sluice({ bootstrap: broker.bootstrap });
  const admin = sluice.admin();
  await admin.createTopic('checked', { partitions: 1 });
  await admin.createTopic('compacted', { partitions: 1, configs: { 'cleanup.policy': 'compact' } });
  raw = await RawClient.connect(broker.port);
});
afterAll(async () => {
  raw.close();
  await sluice.close();
  await cleanupBrokers();
});

interface PartitionResult { errorCode: number; errorMessage: string; baseOffset: number; logAppendTimeMs: number }

async function produce(topic: string, records: Buffer): Promise<PartitionResult> {
  correlationId += 1;
  const count = raw.responses.length + 1;
  raw.send(encodeRequest({
    api: Api.PRODUCE, version: 1, correlationId, clientId: 'produce-validation',
    produce: { acks: 1, timeoutMs: 1000, topics: [{ name: topic, partitions: [{ partition: 0, records }] }] },
  }));
  const response = await raw.response(count);
  expect(response?.correlationId).toBe(correlationId);
  return (response!.produce as { topics: Array<{ partitions: PartitionResult[] }> }).topics[0]!.partitions[0]!;
}

async function logEnd(topic: string): Promise<number> {
  return (await sluice.admin().describeTopic(topic)).partitions[0]!.logEndOffset;
}

async function consumeAll(topic: string, count: number) {
  const consumer = sluice.consumer({ autoOffsetReset: 'earliest' });
  consumer.assign([{ topic, partition: 0 }]);
  const records: Awaited<ReturnType<typeof consumer.poll>> = [];
  try {
    await waitFor(`${count} records of ${topic}`, async () => {
      records.push(...await consumer.poll({ timeoutMs: 200 }));
      return records.length >= count;
    });
  } finally {
    await consumer.close();
  }
  return records;
}

describe('produce validates every record', () => {
  it('refuses batches with a correct CRC but bad records with INVALID_RECORD, stores nothing, and keeps serving', async () => {
    expect((await produce('checked', buildRecordBatch([{ key: null, value: Buffer.from('first') }]))).errorCode).toBe(0);
    const endBefore = await logEnd('checked');
    const bad = [
      craftBatch(Buffer.alloc(64, 0xff), { count: 3 }),
      craftBatch(rawRecords(goodRecords(3)), { count: 1000, lastOffsetDelta: 999 }),
      craftBatch(rawRecords(goodRecords(3)), { count: 2 }),
      craftBatch(rawRecords([{ offsetDelta: 0 }, { offsetDelta: 5 }]), { count: 2 }),
      craftBatch(rawRecords([{ offsetDelta: 0 }, { offsetDelta: 1, lengthAdjust: 9 }]), { count: 2 }),
      craftBatch(rawRecords(goodRecords(3)), { count: 4, compression: 'lz4' }),
    ];
    for (const batch of bad) {
      const result = await produce('checked', batch);
      expect(result.errorCode).toBe(wire('SLUICE_ERR_INVALID_RECORD'));
      expect(result.errorMessage).toMatch(/record|batch/);
    }
    expect(await logEnd('checked')).toBe(endBefore);

    const [sent] = await sluice.producer().send({ topic: 'checked', messages: [{ value: 'after the bad ones' }] });
    expect(sent!.offset).toBe(endBefore);
    const records = await consumeAll('checked', 2);
    expect(records.map((record) => [record.offset, record.value?.toString()])).toEqual([[0, 'first'], [1, 'after the bad ones']]);
  });

  it('refuses the LZ4 bomb and a keyless record on a compacted topic, without storing either', async () => {
    const bomb = craftBatch(emptyBlocksFrame(50), { count: 1, compression: 'lz4', rawFrame: true });
    expect((await produce('checked', bomb)).errorCode).toBe(wire('SLUICE_ERR_INVALID_RECORD'));
    const keyless = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }, { key: null, value: Buffer.from('no key') }], { compression: 'lz4' });
    const refused = await produce('compacted', keyless);
    expect(refused).toMatchObject({ errorCode: wire('SLUICE_ERR_INVALID_RECORD'), errorMessage: expect.stringMatching(/every record needs a key/) });
    expect(await logEnd('compacted')).toBe(0);
    expect((await produce('compacted', buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }]))).errorCode).toBe(0);
  });
});

describe('record timestamps', () => {
  it('refuses a record two hours in the future on a default topic with INVALID_TIMESTAMP', async () => {
    const endBefore = await logEnd('checked');
    const future = Date.now() + 2 * hour;
    const sent = sluice.producer({ retries: 0 }).send({ topic: 'checked', messages: [{ value: 'from the future', timestamp: future }] });
    await expect(sent).rejects.toSatisfy((error) => SluiceError.is(error) && error.code === 'SLUICE_ERR_INVALID_TIMESTAMP');
    expect((await produce('checked', buildRecordBatch([{ key: null, value: Buffer.from('v'), timestamp: future }]))).errorCode)
      .toBe(wire('SLUICE_ERR_INVALID_TIMESTAMP'));
    expect(await logEnd('checked')).toBe(endBefore);
    const [accepted] = await sluice.producer().send({ topic: 'checked', messages: [{ value: 'ten minutes ahead', timestamp: Date.now() + 600_000 }] });
    expect(accepted!.offset).toBe(endBefore);
  });

  it('refuses a record from yesterday when message.timestamp.before.max.ms=60000', async () => {
    await sluice.admin().createTopic('recent', { partitions: 1, configs: { 'message.timestamp.before.max.ms': '60000' } });
    const yesterday = Date.now() - 24 * hour;
    const result = await produce('recent', buildRecordBatch([{ key: null, value: Buffer.from('now'), timestamp: Date.now() }, { key: null, value: Buffer.from('old'), timestamp: yesterday }]));
    expect(result).toMatchObject({ errorCode: wire('SLUICE_ERR_INVALID_TIMESTAMP'), errorMessage: expect.stringMatching(/record 1 has timestamp/) });
    expect(await logEnd('recent')).toBe(0);
    expect((await produce('recent', buildRecordBatch([{ key: null, value: Buffer.from('now') }]))).errorCode).toBe(0);
  });

  it('stamps the broker time on a LogAppendTime topic and returns it as logAppendTimeMs', async () => {
    await sluice.admin().createTopic('append-time', { partitions: 1, configs: { 'message.timestamp.type': 'LogAppendTime' } });
    const old = Date.now() - 30 * 24 * hour;
    const before = Date.now();
    const result = await produce('append-time', buildRecordBatch([1, 2, 3].map((index) => ({ key: null, value: Buffer.from(`r${index}`), timestamp: old + index }))));
    const after = Date.now();
    expect(result.errorCode).toBe(0);
    expect(result.logAppendTimeMs).toBeGreaterThanOrEqual(before);
    expect(result.logAppendTimeMs).toBeLessThanOrEqual(after);
    const records = await consumeAll('append-time', 3);
    expect(records.map((record) => record.timestamp)).toEqual([result.logAppendTimeMs, result.logAppendTimeMs, result.logAppendTimeMs]);
    // A far-future producer clock does not matter when the broker sets the time.
    expect((await produce('append-time', buildRecordBatch([{ key: null, value: Buffer.from('x'), timestamp: Date.now() + 48 * hour }]))).errorCode).toBe(0);
    expect((await produce('checked', buildRecordBatch([{ key: null, value: Buffer.from('v') }]))).logAppendTimeMs).toBe(-1);
  });

  it('takes the three timestamp configs by their Kafka names, and refuses bad values with INVALID_CONFIG', async () => {
    await sluice.admin().createTopic('timestamp-configs', {
      configs: { 'message.timestamp.type': 'CreateTime', 'message.timestamp.before.max.ms': '9223372036854775807', 'message.timestamp.after.max.ms': '0' },
    });
    const bad: Array<Record<string, string>> = [
      { 'message.timestamp.type': 'WallClock' },
      { 'message.timestamp.before.max.ms': '-1' },
      { 'message.timestamp.after.max.ms': 'soon' },
    ];
    for (const configs of bad) {
      await expect(sluice.admin().createTopic('bad-config', { configs })).rejects.toSatisfy((error) => SluiceError.is(error) && error.code === 'SLUICE_ERR_CONFIG');
    }
  });
});
