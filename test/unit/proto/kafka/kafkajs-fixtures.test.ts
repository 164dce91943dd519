/**
 * Golden bytes captured from a real client and a real broker: every request KafkaJS 2.2.4 sent
 * through a recording proxy to a Sluice broker (admin, producer, group consumer) and the
 * broker's response, under fixtures/kafkajs-2.2.4/ — written by fixtures/capture-kafkajs.ts
 * (`npm run build && node dist/test/unit/proto/kafka/fixtures/capture-kafkajs.js`). Each
 * request must decode (header and body) with this codec at its version and re-encode to exactly
 * its bytes; each response likewise, header included. No broker and no KafkaJS are needed here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiKey, apiVersionsResponseVersion, type KafkaApi, kafkaApi, kafkaApis, responseHeaderVersion } from '../../../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import { decodeRequestHeader, encodeResponseFrame, type KafkaRequestHeader } from '../../../../proto/kafka/header.js';

const directory = new URL('./fixtures/kafkajs-2.2.4/', import.meta.url);
const names = readdirSync(directory).filter((name) => name.endsWith('.hex')).sort();
const stems = [...new Set(names.map((name) => name.replace(/\.(request|response)\.hex$/, '')))];

interface Exchange {
  stem: string;
  api: KafkaApi;
  header: KafkaRequestHeader;
  request: Buffer;
  response: Buffer;
  /** The version the response is laid out in (a refused ApiVersions request is answered in v0). */
  responseVersion: number;
  /** Where the response body starts: after the correlation id, and a tagged-field block in header v1. */
  responseBodyOffset: number;
}

function hex(name: string): Buffer {
  return Buffer.from(readFileSync(new URL(name, directory), 'utf8').replace(/\s+/g, ''), 'hex');
}

function load(stem: string): Exchange {
  const request = hex(`${stem}.request.hex`);
  const header = decodeRequestHeader(request);
  const api = kafkaApi(header.apiKey);
  if (api === undefined) throw new Error(`${stem}: API key ${header.apiKey} is not in the registry`);
  const responseVersion = header.apiKey === ApiKey.ApiVersions ? apiVersionsResponseVersion(header.apiVersion) : header.apiVersion;
  const responseBodyOffset = responseHeaderVersion(header.apiKey, responseVersion) === 0 ? 4 : 5;
  return { stem, api, header, request, response: hex(`${stem}.response.hex`), responseVersion, responseBodyOffset };
}

const exchanges = stems.map(load);
const named = (name: string) => exchanges.filter((exchange) => exchange.api.name === name);

/** Request header v1 (v2 adds an empty tagged-field block), built from the decoded fields. */
function encodeRequestHeader(header: KafkaRequestHeader): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeInt16BE(header.apiKey, 0);
  fixed.writeInt16BE(header.apiVersion, 2);
  fixed.writeInt32BE(header.correlationId, 4);
  const clientId = header.clientId === null ? Buffer.alloc(0) : Buffer.from(header.clientId);
  fixed.writeInt16BE(header.clientId === null ? -1 : clientId.length, 8);
  return Buffer.concat([fixed, clientId, Buffer.alloc(header.headerVersion === 2 ? 1 : 0)]);
}

/** Every `errorCode` anywhere in a decoded message. */
function errorCodes(value: unknown): number[] {
  if (Array.isArray(value)) return value.flatMap(errorCodes);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return [];
  return Object.entries(value).flatMap(([key, field]) => (key === 'errorCode' ? [field as number] : errorCodes(field)));
}

/** The attributes' compression bits of each record batch in a records field. */
function batchCompressions(records: Buffer): number[] {
  const codecs: number[] = [];
  for (let at = 0; at + 12 <= records.length; at += 12 + records.readInt32BE(at + 8)) codecs.push(records.readInt16BE(at + 21) & 0x07);
  return codecs;
}

describe('KafkaJS 2.2.4 exchanges with a Sluice broker', () => {
  it('pair each request with its response, numbered in the order they were sent', () => {
    expect(names).toEqual(stems.flatMap((stem) => [`${stem}.request.hex`, `${stem}.response.hex`]));
    expect(stems.map((stem) => Number(stem.slice(0, 3)))).toEqual(stems.map((_, index) => index + 1));
    for (const { stem, api, header } of exchanges) expect(stem.slice(4)).toBe(`${api.name}-v${header.apiVersion}`);
  });

  it('cover what an admin client, a producer and a group consumer use', () => {
    expect([...new Set(exchanges.map(({ api, header }) => `${api.name} v${header.apiVersion}`))].sort()).toEqual([
      'ApiVersions v2', 'CreateTopics v3', 'DeleteTopics v1', 'Fetch v11', 'FindCoordinator v2', 'Heartbeat v3', 'JoinGroup v5',
      'LeaveGroup v3', 'ListOffsets v3', 'Metadata v6', 'OffsetCommit v5', 'OffsetFetch v4', 'Produce v7', 'SyncGroup v3',
    ]);
    const first = (name: string) => exchanges.findIndex((exchange) => exchange.api.name === name);
    const group = ['FindCoordinator', 'JoinGroup', 'SyncGroup', 'OffsetFetch', 'Fetch', 'OffsetCommit', 'LeaveGroup', 'DeleteTopics'].map(first);
    expect(group).toEqual([...group].sort((a, b) => a - b));
  });

  for (const { stem, api, header, request } of exchanges) {
    it(`${stem} request decodes and re-encodes to the same bytes`, () => {
      expect(header.clientId).toBe('kafkajs-golden');
      expect(encodeRequestHeader(header).toString('hex')).toBe(request.subarray(0, header.bodyOffset).toString('hex'));
      const body = decodeMessage(api.request, header.apiVersion, request, header.bodyOffset);
      expect(Buffer.concat(encodeMessage(api.request, header.apiVersion, body)).toString('hex')).toBe(request.subarray(header.bodyOffset).toString('hex'));
    });
  }

  for (const { stem, api, header, response, responseVersion, responseBodyOffset } of exchanges) {
    it(`${stem} response decodes and re-encodes to the same bytes`, () => {
      expect(response.readInt32BE(0)).toBe(header.correlationId);
      const body = decodeMessage(api.response, responseVersion, response, responseBodyOffset);
      const again = Buffer.concat(encodeResponseFrame(api.apiKey, responseVersion, header.correlationId, encodeMessage(api.response, responseVersion, body)));
      expect(again.readInt32BE(0)).toBe(response.length);
      expect(again.subarray(4).toString('hex')).toBe(response.toString('hex'));
      expect(errorCodes(body)).toEqual(errorCodes(body).map(() => 0));
    });
  }

  it('hold what KafkaJS sent and what the broker answered', () => {
    const produce = named('Produce').map(({ header, request }) => decodeMessage(kafkaApis.produce.request, header.apiVersion, request, header.bodyOffset));
    expect(produce.map((p) => p.acks)).toEqual([-1, -1]);
    const partitions = produce.map((p) => p.topicData.flatMap((t) => t.partitionData.map((d) => ({ topic: t.name, index: d.index, records: d.records! }))));
    expect(partitions.map((list) => list.map(({ topic, index }) => `${topic}/${index}`))).toEqual([['golden/0', 'golden/1'], ['golden/0']]);
    expect(partitions[0]!.map(({ records }) => batchCompressions(records))).toEqual([[0], [0]]);
    expect(partitions[1]!.map(({ records }) => batchCompressions(records))).toEqual([[1]]);
    for (const text of ['key-1', 'value-1', 'kind', 'plain']) expect(partitions[0]![1]!.records.includes(text)).toBe(true);

    const fetch = named('Fetch').map(({ header, response, responseBodyOffset }) => decodeMessage(kafkaApis.fetch.response, header.apiVersion, response, responseBodyOffset));
    const fetched = fetch[0]!.responses[0]!.partitions.map((p) => ({ index: p.partitionIndex, highWatermark: p.highWatermark, codecs: batchCompressions(p.records!) }));
    expect(fetched.sort((a, b) => a.index - b.index)).toEqual([{ index: 0, highWatermark: 3, codecs: [0, 1] }, { index: 1, highWatermark: 2, codecs: [0] }]);

    const join = named('JoinGroup')[0]!;
    expect(decodeMessage(kafkaApis.joinGroup.request, join.header.apiVersion, join.request, join.header.bodyOffset))
      .toMatchObject({ groupId: 'golden-group', protocolType: 'consumer', memberId: '' });
    const commits = named('OffsetCommit').flatMap(({ header, request }) =>
      decodeMessage(kafkaApis.offsetCommit.request, header.apiVersion, request, header.bodyOffset).topics.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.committedOffset])));
    expect(new Map(commits as Array<[number, number]>)).toEqual(new Map([[0, 3], [1, 2]]));
    const leave = named('LeaveGroup')[0]!;
    expect(decodeMessage(kafkaApis.leaveGroup.request, leave.header.apiVersion, leave.request, leave.header.bodyOffset)).toMatchObject({ groupId: 'golden-group' });
  });
});
