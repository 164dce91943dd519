/**
 * Every kind of bad input gets its own error code and a message, and the broker keeps
 * serving: oversized and malformed frames, unknown APIs and versions, corrupt batches,
 * oversized batches, unknown topics and partitions, out-of-range fetches, and topic names
 * that are empty, too long, or try to escape the data directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { RawClient, rawFrame } from '../helpers/raw-client.js';

const wire = (code: keyof typeof errorCodes) => errorCodes[code].wire;
let broker: BrokerProcess;
let sluice: Sluice;
let raw: RawClient;
let correlationId = 100;

beforeAll(async () => {
  broker = await startBroker({ args: ['--max-frame-bytes', String(4 * 1024 * 1024)] });
  sluice = new Sluice({ bootstrap: broker.bootstrap });
  await sluice.admin().createTopic('good', { partitions: 2, configs: { 'max.message.bytes': '100000' } });
  raw = await RawClient.connect(broker.port);
});
afterAll(async () => {
  raw.close();
  await sluice.close();
  await cleanupBrokers();
});

async function request(api: number, body: Record<string, unknown>, version = 1) {
  correlationId += 1;
  const count = raw.responses.length + 1;
  raw.send(encodeRequest({ api, version, correlationId, clientId: 'bad-input', ...body }));
  const response = await raw.response(count);
  expect(response?.correlationId).toBe(correlationId);
  return response!;
}

async function produce(topic: string, partition: number, records: Buffer) {
  const response = await request(Api.PRODUCE, { produce: { acks: 1, timeoutMs: 1000, topics: [{ name: topic, partitions: [{ partition, records }] }] } });
  return (response.produce as { topics: Array<{ partitions: Array<{ errorCode: number; errorMessage: string }> }> }).topics[0]!.partitions[0]!;
}

async function stillServing(): Promise<void> {
  const [sent] = await sluice.producer().send({ topic: 'good', messages: [{ value: 'still here', partition: 0 }] });
  expect(sent!.offset).toBeGreaterThanOrEqual(0);
}

describe('bad input', () => {
  it('answers a frame that is not protobuf with MALFORMED_FRAME and keeps the connection', async () => {
    const count = raw.responses.length + 1;
    raw.send(rawFrame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])));
    const response = await raw.response(count);
    expect(response).toMatchObject({ correlationId: 0, errorCode: wire('SLUICE_ERR_MALFORMED_FRAME') });
    expect(response!.errorMessage).toMatch(/cannot decode request/);
    expect((await request(Api.API_VERSIONS, { apiVersions: {} })).errorCode).toBe(0);
  });

  it('answers unknown APIs, versions and mismatched bodies with their codes', async () => {
    expect((await request(99, { apiVersions: {} })).errorCode).toBe(wire('SLUICE_ERR_UNKNOWN_API'));
    const version = await request(Api.METADATA, { metadata: {} }, 7);
    expect(version.errorCode).toBe(wire('SLUICE_ERR_UNSUPPORTED_VERSION'));
    expect(version.errorMessage).toMatch(/supports versions 1\.\.1/);
    expect((await request(Api.FETCH, { metadata: {} })).errorCode).toBe(wire('SLUICE_ERR_INVALID_REQUEST'));
  });

  it('refuses batches with a bad CRC, bad magic, or too many bytes', async () => {
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('v') }]);
    const badCrc = Buffer.from(batch);
    badCrc[badCrc.length - 1] = badCrc[badCrc.length - 1]! ^ 0xff;
    expect(await produce('good', 0, badCrc)).toMatchObject({ errorCode: wire('SLUICE_ERR_CORRUPT_MESSAGE'), errorMessage: expect.stringMatching(/CRC-32C/) });
    const badMagic = Buffer.from(batch);
    badMagic[16] = 1;
    expect(await produce('good', 0, badMagic)).toMatchObject({ errorCode: wire('SLUICE_ERR_CORRUPT_MESSAGE'), errorMessage: expect.stringMatching(/magic 1/) });
    const big = buildRecordBatch([{ key: null, value: Buffer.alloc(200_000, 1) }]);
    expect(await produce('good', 0, big)).toMatchObject({ errorCode: wire('SLUICE_ERR_MESSAGE_TOO_LARGE'), errorMessage: expect.stringMatching(/max.message.bytes/) });
  });

  it('refuses unknown topics and partitions', async () => {
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('v') }]);
    expect((await produce('missing', 0, batch)).errorCode).toBe(wire('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION'));
    const partition = await produce('good', 7, batch);
    expect(partition.errorCode).toBe(wire('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION'));
    expect(partition.errorMessage).toMatch(/partitions 0\.\.1/);
  });

  it('answers an out-of-range fetch with the valid range', async () => {
    await stillServing();
    const response = await request(Api.FETCH, { fetch: { maxWaitMs: 0, minBytes: 1, maxBytes: 1000, topics: [{ name: 'good', partitions: [{ partition: 0, fetchOffset: 1_000_000, maxBytes: 1000 }] }] } });
    const result = (response.fetch as { topics: Array<{ partitions: Array<Record<string, unknown>> }> }).topics[0]!.partitions[0]!;
    expect(result.errorCode).toBe(wire('SLUICE_ERR_OFFSET_OUT_OF_RANGE'));
    expect(result.logStartOffset).toBe(0);
    expect(result.highWatermark).toBeGreaterThan(0);
    expect(result.errorMessage).toMatch(/outside the log's range \[0, \d+\)/);
  });

  it('refuses empty, overlong and path-like topic names without touching the filesystem', async () => {
    const outside = path.join(path.dirname(broker.dataDirectory), 'x');
    const names = ['', 'a'.repeat(250), '../x', 'a/b', '..', '.', 'x\u0000y'];
    const response = await request(Api.CREATE_TOPICS, { createTopics: { topics: names.map((name) => ({ name, partitions: 1 })) } });
    const results = (response.createTopics as { topics: Array<{ errorCode: number }> }).topics;
    expect(results.map((result) => result.errorCode)).toEqual(names.map(() => wire('SLUICE_ERR_INVALID_TOPIC')));
    expect(fs.existsSync(outside)).toBe(false);
    expect(fs.existsSync(`${outside}-0`)).toBe(false);
    const partitions = await request(Api.CREATE_TOPICS, { createTopics: { topics: [{ name: 'zero', partitions: 0 }] } });
    expect((partitions.createTopics as { topics: Array<{ errorCode: number }> }).topics[0]!.errorCode).toBe(wire('SLUICE_ERR_INVALID_PARTITIONS'));
  });

  it('answers a frame over the limit with FRAME_TOO_LARGE, closes that connection, and serves others', async () => {
    const victim = await RawClient.connect(broker.port);
    victim.send(rawFrame(Buffer.alloc(16), 64 * 1024 * 1024));
    const response = await victim.response(1);
    expect(response).toMatchObject({ errorCode: wire('SLUICE_ERR_FRAME_TOO_LARGE') });
    expect(response!.errorMessage).toMatch(/exceeds the limit of 4194304/);
    const deadline = Date.now() + 5000;
    while (!victim.closed && Date.now() < deadline) await victim.response(2, 100);
    expect(victim.closed).toBe(true);
    await stillServing();
    expect((await request(Api.API_VERSIONS, { apiVersions: {} })).errorCode).toBe(0);
  });
});
