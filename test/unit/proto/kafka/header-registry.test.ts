/**
 * Request headers v1/v2, response framing, and the registry: which versions Sluice serves and
 * which header versions they use.
 */
import { describe, expect, it } from 'vitest';
import {
  ApiKey,
  advertisedApiVersions,
  apiVersionsResponseVersion,
  isVersionServed,
  kafkaApi,
  kafkaApis,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../../../proto/kafka/apis.js';
import { schemaVersions } from '../../../../proto/kafka/codec.js';
import { KafkaProtocolError } from '../../../../proto/kafka/error-codes.js';
import { decodeRequestHeader, encodeResponseFrame, encodeResponseHeader } from '../../../../proto/kafka/header.js';

function header(apiKey: number, apiVersion: number, clientId: string | null, tagged = Buffer.alloc(0)): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeInt16BE(apiKey, 0);
  fixed.writeInt16BE(apiVersion, 2);
  fixed.writeInt32BE(99, 4);
  fixed.writeInt16BE(clientId === null ? -1 : Buffer.byteLength(clientId), 8);
  return Buffer.concat([fixed, Buffer.from(clientId ?? ''), tagged]);
}

describe('request header', () => {
  it('reads v1 (non-flexible versions) up to the client id, null client id included', () => {
    const bytes = Buffer.concat([header(ApiKey.Produce, 7, null), Buffer.from([0xaa])]);
    expect(decodeRequestHeader(bytes)).toEqual({
      apiKey: 0, apiVersion: 7, correlationId: 99, clientId: null, headerVersion: 1, bodyOffset: 10,
    });
  });

  it('reads v2 (flexible versions) and skips tagged fields it does not know', () => {
    const tagged = Buffer.from([0x02, 0x05, 0x02, 0xbe, 0xef, 0x07, 0x00]);
    const bytes = Buffer.concat([header(ApiKey.Produce, 9, 'ü-client', tagged), Buffer.from([0xaa])]);
    const decoded = decodeRequestHeader(bytes);
    expect(decoded).toMatchObject({ clientId: 'ü-client', headerVersion: 2 });
    expect(bytes[decoded.bodyOffset]).toBe(0xaa);
  });

  it('parses a too-new ApiVersions header as v2, and an unknown API key as v1', () => {
    expect(decodeRequestHeader(Buffer.concat([header(ApiKey.ApiVersions, 9, 'c'), Buffer.from([0])])).headerVersion).toBe(2);
    expect(decodeRequestHeader(header(1000, 3, 'c')).headerVersion).toBe(1);
  });

  it('throws KafkaProtocolError for every truncation and for a bad client id length', () => {
    const bytes = header(ApiKey.Metadata, 9, 'client', Buffer.from([0x01, 0x00, 0x03, 1, 2, 3]));
    for (let length = 0; length < bytes.length; length += 1) {
      expect(() => decodeRequestHeader(bytes.subarray(0, length)), `length ${length}`).toThrow(KafkaProtocolError);
    }
    const bad = header(ApiKey.Metadata, 1, 'x');
    bad.writeInt16BE(-2, 8);
    expect(() => decodeRequestHeader(bad)).toThrow(KafkaProtocolError);
  });
});

describe('response framing', () => {
  it('uses header v1 for flexible versions, v0 otherwise and always for ApiVersions', () => {
    expect(encodeResponseHeader(7, 0)).toEqual(Buffer.from([0, 0, 0, 7]));
    expect(encodeResponseHeader(7, 1)).toEqual(Buffer.from([0, 0, 0, 7, 0]));
    const body = [Buffer.from([1, 2]), Buffer.from([3])];
    expect(Buffer.concat(encodeResponseFrame(ApiKey.Metadata, 9, 7, body))).toEqual(Buffer.from([0, 0, 0, 8, 0, 0, 0, 7, 0, 1, 2, 3]));
    expect(Buffer.concat(encodeResponseFrame(ApiKey.Metadata, 8, 7, body))).toEqual(Buffer.from([0, 0, 0, 7, 0, 0, 0, 7, 1, 2, 3]));
    expect(Buffer.concat(encodeResponseFrame(ApiKey.ApiVersions, 3, 7, body))).toEqual(Buffer.from([0, 0, 0, 7, 0, 0, 0, 7, 1, 2, 3]));
  });

  it('keeps body chunks as they are (records stay uncopied)', () => {
    const records = Buffer.from('records');
    const frame = encodeResponseFrame(ApiKey.Fetch, 11, 1, [Buffer.from([0]), records]);
    expect(frame[2]).toBe(records);
  });
});

describe('registry', () => {
  const apis = Object.values(kafkaApis);

  it('serves only versions both schemas describe, advertised from at most the served minimum', () => {
    for (const api of apis) {
      for (const schema of [api.request, api.response]) {
        const { min, max } = schemaVersions(schema);
        expect(api.advertisedMinVersion, api.name).toBeGreaterThanOrEqual(min);
        expect(api.maxVersion, api.name).toBeLessThanOrEqual(max);
      }
      expect(api.advertisedMinVersion).toBeLessThanOrEqual(api.minVersion);
      expect(api.minVersion).toBeLessThanOrEqual(api.maxVersion);
      expect(kafkaApi(api.apiKey)).toBe(api);
    }
    expect(apis).toHaveLength(31);
    expect(new Set(apis.map((api) => api.apiKey)).size).toBe(31);
  });

  it('serves up to Kafka 3.9 maxima', () => {
    const max = Object.fromEntries(apis.map((api) => [api.name, api.maxVersion]));
    expect(max).toEqual({
      Produce: 11, Fetch: 17, ListOffsets: 9, Metadata: 12, OffsetCommit: 9, OffsetFetch: 9,
      FindCoordinator: 5, JoinGroup: 9, Heartbeat: 4, LeaveGroup: 5, SyncGroup: 5, DescribeGroups: 5,
      ListGroups: 5, ApiVersions: 4, CreateTopics: 7, DeleteTopics: 6, DeleteRecords: 2, InitProducerId: 5,
      OffsetForLeaderEpoch: 4, DescribeConfigs: 4, CreatePartitions: 3, DeleteGroups: 2,
      IncrementalAlterConfigs: 1, DescribeCluster: 1, WriteTxnMarkers: 1,
      // Transactions stop before KIP-890's versions (AddPartitionsToTxn v4+ is broker-to-broker batching).
      AddPartitionsToTxn: 3, AddOffsetsToTxn: 3, EndTxn: 3, TxnOffsetCommit: 3, DescribeTransactions: 0, ListTransactions: 1,
    });
  });

  it('serves the versions KafkaJS 2.2.4 uses (its maxima) and the KIP-896 baseline', () => {
    const kafkaJs: Array<[number, number]> = [
      [ApiKey.Produce, 7], [ApiKey.Fetch, 11], [ApiKey.ListOffsets, 3], [ApiKey.Metadata, 6], [ApiKey.OffsetCommit, 5],
      [ApiKey.OffsetFetch, 4], [ApiKey.FindCoordinator, 2], [ApiKey.JoinGroup, 5], [ApiKey.Heartbeat, 3],
      [ApiKey.LeaveGroup, 3], [ApiKey.SyncGroup, 3], [ApiKey.ApiVersions, 2], [ApiKey.CreateTopics, 3],
      [ApiKey.DeleteTopics, 1], [ApiKey.InitProducerId, 1], [ApiKey.DescribeConfigs, 2], [ApiKey.DescribeGroups, 2],
      [ApiKey.ListGroups, 2], [ApiKey.DeleteGroups, 1], [ApiKey.CreatePartitions, 1], [ApiKey.DeleteRecords, 0],
    ];
    for (const [apiKey, version] of kafkaJs) expect(isVersionServed(apiKey, version), `${apiKey} v${version}`).toBe(true);
    for (const version of [1, 2, 3, 4, 5, 6]) expect(isVersionServed(ApiKey.Metadata, version)).toBe(true);
    // Kafka 4.0's floors (KIP-896) are served: Produce 3, Fetch 4, ListOffsets 1, OffsetCommit 2, …
    const floors: Array<[number, number]> = [
      [ApiKey.Produce, 3], [ApiKey.Fetch, 4], [ApiKey.ListOffsets, 1], [ApiKey.OffsetCommit, 2], [ApiKey.OffsetFetch, 1],
      [ApiKey.JoinGroup, 2], [ApiKey.CreateTopics, 2], [ApiKey.DeleteTopics, 1], [ApiKey.DescribeConfigs, 1],
      [ApiKey.OffsetForLeaderEpoch, 2],
    ];
    for (const [apiKey, version] of floors) expect(kafkaApi(apiKey)!.minVersion, `${apiKey}`).toBe(version);
  });

  it('advertises Produce from v0 (KAFKA-18659) but does not serve v0–v2', () => {
    const produce = advertisedApiVersions().find((entry) => entry.apiKey === ApiKey.Produce);
    expect(produce).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 11 });
    expect(isVersionServed(ApiKey.Produce, 2)).toBe(false);
    expect(isVersionServed(ApiKey.Produce, 3)).toBe(true);
    const keys = advertisedApiVersions().map((entry) => entry.apiKey);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });

  it('picks header versions from the first flexible version, ApiVersions responses always v0', () => {
    expect(requestHeaderVersion(ApiKey.Produce, 8)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Produce, 9)).toBe(2);
    expect(responseHeaderVersion(ApiKey.Produce, 9)).toBe(1);
    expect(requestHeaderVersion(ApiKey.DescribeCluster, 0)).toBe(2);
    expect(requestHeaderVersion(ApiKey.ApiVersions, 3)).toBe(2);
    expect(responseHeaderVersion(ApiKey.ApiVersions, 3)).toBe(0);
    expect(requestHeaderVersion(999, 5)).toBe(1);
    expect(kafkaApi(999)).toBeUndefined();
    const flexible = Object.fromEntries(apis.map((api) => [api.name, api.firstFlexibleVersion]));
    expect(flexible).toMatchObject({ Produce: 9, Fetch: 12, ListOffsets: 6, Metadata: 9, ApiVersions: 3, DescribeCluster: 0 });
  });

  it('answers an ApiVersions version it does not serve in v0', () => {
    expect(apiVersionsResponseVersion(3)).toBe(3);
    expect(apiVersionsResponseVersion(5)).toBe(0);
    expect(apiVersionsResponseVersion(-1)).toBe(0);
  });
});
