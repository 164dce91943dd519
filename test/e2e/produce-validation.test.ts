/**
 * The broker checks every record of a produced batch before storing it (Kafka's
 * LogValidator): a batch whose CRC is right but whose records are not is refused with
 * INVALID_RECORD and stores nothing, an LZ4 bomb costs nothing, batches of every codec (gzip,
 * snappy, lz4, zstd; from Kafka's Java client, librdkafka and Sluice's producer) are checked
 * alike and served back record for record, record timestamps are held to
 * message.timestamp.before/after.max.ms, and message.timestamp.type=LogAppendTime stamps the
 * broker's time. Real broker process, raw protocol client for what no producer sends.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { errorCodes, SluiceError } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { codecByName } from '../../proto/record-batch/compression.js';
import { buildRecordBatch, readBatchHeader } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { craftBatch, emptyBlocksFrame, goodRecords, rawRecords, withValidCrc } from '../helpers/crafted-batches.js';
import { goldenBatches } from '../helpers/golden-batches.js';
import { runCli } from '../helpers/cli.js';
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

describe('compressed batches, every codec', () => {
  const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

  it('takes the batches Kafka\'s Java client and librdkafka compressed with each codec, and serves them back record for record', async () => {
    // librdkafka's batches carry the capture's wall clock: allow any future time.
    await sluice.admin().createTopic('golden', { partitions: 1, configs: { 'message.timestamp.after.max.ms': String(100 * 365 * 24 * hour) } });
    for (const golden of goldenBatches) {
      expect((await produce('golden', Buffer.from(golden.hex, 'hex'))).errorCode, `${golden.client} ${golden.compression}`).toBe(0);
    }
    const records = await consumeAll('golden', 40 * goldenBatches.length);
    expect(records.map((record) => record.offset)).toEqual(Array.from({ length: 40 * goldenBatches.length }, (_, offset) => offset));
    const values = Array.from({ length: 40 }, (_, index) => `value ${index + 1} of the golden batch, repeated text repeated text`);
    expect(records.map((record) => record.value?.toString())).toEqual(goldenBatches.flatMap(() => values));
    expect(records.every((record) => record.headers.length === 1 && record.headers[0]!.key === 'trace' && record.headers[0]!.value?.toString() === 'golden')).toBe(true);
  });

  it.each(codecs)('the native producer writes %s batches that the broker takes and the consumer reads back', async (compression) => {
    const topic = `native-${compression}`;
    await sluice.admin().createTopic(topic, { partitions: 1 });
    const messages = Array.from({ length: 300 }, (_, index) => ({ key: `key-${index % 13}`, value: `${compression} record ${index} `.repeat(1 + (index % 5)), headers: { n: String(index) } }));
    const producer = sluice.producer({ compression, lingerMs: 20 });
    await producer.send({ topic, messages });
    const records = await consumeAll(topic, messages.length);
    expect(records.map((record) => [record.key?.toString(), record.value?.toString(), record.headers[0]?.value?.toString()]))
      .toEqual(messages.map((message) => [message.key, message.value, message.headers.n]));
  });

  it('sluice produce --compression writes batches of that codec', async () => {
    for (const compression of ['snappy', 'zstd'] as const) {
      const topic = `cli-${compression}`;
      await sluice.admin().createTopic(topic, { partitions: 1 });
      const result = await runCli(['produce', topic, '--compression', compression, '--key-separator', ':', '--bootstrap', broker.bootstrap], { input: 'a:1\nb:2\nc:3\n' });
      expect(result.code, result.stderr).toBe(0);
      const records = await consumeAll(topic, 3);
      expect(records.map((record) => `${record.key?.toString()}:${record.value?.toString()}`)).toEqual(['a:1', 'b:2', 'c:3']);
      const segment = fs.readFileSync(path.join(broker.dataDirectory, `${topic}-0`, '00000000000000000000.log'));
      expect(readBatchHeader(segment).compression).toBe(compression);
    }
    const refused = await runCli(['produce', 'cli-zstd', '--compression', 'brotli', '--bootstrap', broker.bootstrap], { input: 'x\n' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/none, gzip, snappy, lz4, zstd/);
    expect(() => sluice.producer({ compression: 'brotli' as never })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
  });

  it('refuses miscounted records, corrupt streams, bombs and codecs 5–7 alike for every codec, storing nothing', async () => {
    await sluice.admin().createTopic('small', { partitions: 1, configs: { 'max.message.bytes': '16384' } });
    const endBefore = await logEnd('small');
    for (const compression of codecs) {
      const miscounted = craftBatch(rawRecords(goodRecords(3)), { count: 4, compression });
      expect((await produce('small', miscounted)).errorCode, compression).toBe(wire('SLUICE_ERR_INVALID_RECORD'));
      const corrupt = craftBatch(Buffer.from('these bytes are no compressed stream of any kind'), { count: 1, compression, rawFrame: true });
      expect((await produce('small', corrupt)).errorCode, compression).toBe(wire('SLUICE_ERR_CORRUPT_MESSAGE'));
      // 2 MiB of records behind a few KiB: past 64 × max.message.bytes (1 MiB). Snappy packs
      // at most ~21:1, so its bomb is a block whose header claims 2 MiB.
      const stream = compression === 'snappy' ? Buffer.from([0x80, 0x80, 0x80, 0x01, 0, 0, 0]) : codecByName(compression).compress(Buffer.alloc(2 * 1024 * 1024));
      const bomb = craftBatch(stream, { count: 1, compression, rawFrame: true });
      expect(bomb.length).toBeLessThan(16384);
      expect((await produce('small', bomb)).errorCode, compression).toBe(wire('SLUICE_ERR_INVALID_RECORD'));
    }
    for (const codec of [5, 6, 7]) {
      const unknown = Buffer.from(buildRecordBatch([{ key: null, value: Buffer.from('v') }]));
      unknown.writeInt16BE(codec, 21);
      expect((await produce('small', withValidCrc(unknown))).errorCode).toBe(wire('SLUICE_ERR_UNSUPPORTED_COMPRESSION'));
    }
    expect(await logEnd('small')).toBe(endBefore);
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
