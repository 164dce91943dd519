/**
 * Golden bytes: requests and responses written out byte by byte from Kafka's protocol spec,
 * shaped as the named clients send them (librdkafka's first request, KafkaJS's metadata
 * request, the UNSUPPORTED_VERSION answer of KIP-511), so the codec is checked against
 * independently constructed bytes and not only against itself. Each frame is: int32 size,
 * request header, body.
 */
import { describe, expect, it } from 'vitest';
import { ApiKey, advertisedApiVersions, apiVersionsResponseVersion, kafkaApis } from '../../../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import { kafkaErrorCodes } from '../../../../proto/kafka/error-codes.js';
import { decodeRequestHeader, encodeResponseFrame } from '../../../../proto/kafka/header.js';

/** Bytes from hex written with spaces and comments (`# …` to the end of a line). */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

/** Splits a frame into its size prefix and the rest, checking the prefix. */
function unframe(frame: Buffer): Buffer {
  expect(frame.readInt32BE(0)).toBe(frame.length - 4);
  return frame.subarray(4);
}

describe('golden bytes', () => {
  it('ApiVersions v3 request as librdkafka sends it first (header v2, compact body)', () => {
    const frame = hex(`
      00000024                       # size 36
      0012 0003 00000001             # api key 18, version 3, correlation id 1
      0007 72646b61666b61            # client id "rdkafka": int16 length even in header v2
      00                             # header tagged fields: none
      0b 6c696272646b61666b61        # client software name "librdkafka": uvarint 10+1
      06 322e302e32                  # client software version "2.0.2": uvarint 5+1
      00                             # body tagged fields: none
    `);
    const message = unframe(frame);
    const header = decodeRequestHeader(message);
    expect(header).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka', headerVersion: 2, bodyOffset: 18 });
    const body = decodeMessage(kafkaApis.apiVersions.request, 3, message, header.bodyOffset);
    expect(body).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
    expect(Buffer.concat(encodeMessage(kafkaApis.apiVersions.request, 3, body)).equals(message.subarray(18))).toBe(true);
  });

  it('Metadata v1 request as KafkaJS sends it (header v1, classic body)', () => {
    const frame = hex(`
      00000021                       # size 33
      0003 0001 00000007             # api key 3, version 1, correlation id 7
      0007 6b61666b616a73            # client id "kafkajs"; header v1 has no tagged fields
      00000001                       # topics: int32 count 1
      000a 746573742d746f706963      # name "test-topic": int16 length 10
    `);
    const message = unframe(frame);
    const header = decodeRequestHeader(message);
    expect(header).toEqual({ apiKey: 3, apiVersion: 1, correlationId: 7, clientId: 'kafkajs', headerVersion: 1, bodyOffset: 17 });
    const body = decodeMessage(kafkaApis.metadata.request, 1, message, header.bodyOffset);
    // Fields v1 lacks come back at their defaults: auto-creation on (v4+), no authorized operations (v8+).
    expect(body).toEqual({
      topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'test-topic' }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(Buffer.concat(encodeMessage(kafkaApis.metadata.request, 1, body)).equals(message.subarray(17))).toBe(true);
  });

  it('Metadata v1 "all topics" is a null array; v0 has no null and says it with an empty one', () => {
    expect(decodeMessage(kafkaApis.metadata.request, 1, hex('ffffffff')).topics).toBeNull();
    expect(() => decodeMessage(kafkaApis.metadata.request, 0, hex('ffffffff'))).toThrow(/null where this version allows none/);
    expect(decodeMessage(kafkaApis.metadata.request, 0, hex('00000000')).topics).toEqual([]);
  });

  it('answers a too-new ApiVersions request with UNSUPPORTED_VERSION in the v0 layout and header v0', () => {
    const version = apiVersionsResponseVersion(9);
    expect(version).toBe(0);
    const apiVersionsRange = advertisedApiVersions().find((entry) => entry.apiKey === ApiKey.ApiVersions)!;
    const body = encodeMessage(kafkaApis.apiVersions.response, version, {
      errorCode: kafkaErrorCodes.UNSUPPORTED_VERSION,
      apiKeys: [apiVersionsRange],
    });
    const frame = Buffer.concat(encodeResponseFrame(ApiKey.ApiVersions, version, 42, body));
    expect(frame.equals(hex(`
      00000010                       # size 16
      0000002a                       # response header v0: correlation id 42, no tagged fields
      0023                           # error code 35 UNSUPPORTED_VERSION
      00000001                       # api keys: int32 count 1
      0012 0000 0004                 # ApiVersions: versions 0 to 4
    `))).toBe(true);
  });

  it('ApiVersions v3 response: compact body with tagged features, still behind header v0', () => {
    const body = encodeMessage(kafkaApis.apiVersions.response, 3, {
      errorCode: 0,
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: 5,
    });
    const frame = Buffer.concat(encodeResponseFrame(ApiKey.ApiVersions, 3, 1, body));
    expect(frame.equals(hex(`
      0000001d                       # size 29
      00000001                       # header v0 (ApiVersions' exception): no tagged fields
      0000                           # error code
      02 0000 0000 000b 00           # api keys: uvarint 1+1; Produce 0-11; element tagged fields
      00000000                       # throttle time
      01                             # tagged fields: 1 (zero-valued ones are left out)
      01 08 0000000000000005         # tag 1 finalized features epoch, 8 bytes, 5
    `))).toBe(true);
    expect(decodeMessage(kafkaApis.apiVersions.response, 3, unframe(frame), 4)).toMatchObject({ finalizedFeaturesEpoch: 5, supportedFeatures: [] });
  });

  it('Produce v3 request: nullable transactional id, records as a length-prefixed blob', () => {
    const body = hex(`
      ffff                           # transactional id: null
      ffff                           # acks -1
      00007530                       # timeout 30000 ms
      00000001 0001 74               # topics: 1, name "t"
      00000001 00000002              # partitions: 1, index 2
      00000004 deadbeef              # records: 4 bytes
    `);
    const decoded = decodeMessage(kafkaApis.produce.request, 3, body);
    expect(decoded).toEqual({
      transactionalId: null,
      acks: -1,
      timeoutMs: 30000,
      topicData: [{ name: 't', partitionData: [{ index: 2, records: hex('deadbeef') }] }],
    });
    expect(Buffer.concat(encodeMessage(kafkaApis.produce.request, 3, decoded)).equals(body)).toBe(true);
  });

  it('Fetch v12 response: compact strings and arrays, a tagged struct inside a partition, header v1', () => {
    const body = encodeMessage(kafkaApis.fetch.response, 12, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [{
        topic: 't',
        partitions: [{
          partitionIndex: 0,
          errorCode: 0,
          highWatermark: 10,
          lastStableOffset: 10,
          logStartOffset: 0,
          currentLeader: { leaderId: 2, leaderEpoch: 5 },
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: Buffer.from('abc'),
        }],
      }],
    });
    const frame = Buffer.concat(encodeResponseFrame(ApiKey.Fetch, 12, 3, body));
    expect(frame.equals(hex(`
      00000048                       # size 72
      00000003 00                    # header v1: correlation id 3, no tagged fields
      00000000 0000 00000000         # throttle time, error code, session id
      02 02 74                       # responses: 1; topic "t"
      02 00000000 0000               # partitions: 1; index 0, error 0
      000000000000000a               # high watermark 10
      000000000000000a               # last stable offset 10
      0000000000000000               # log start offset 0
      00                             # aborted transactions: null
      ffffffff                       # preferred read replica -1
      04 616263                      # records: uvarint 3+1, "abc"
      01 01 09                       # partition tagged fields: 1; tag 1 current leader, 9 bytes:
      00000002 00000005 00           #   leader 2, epoch 5, and the struct's own (empty) tagged fields
      00 00                          # topic and response tagged fields: none
    `))).toBe(true);
    const decoded = decodeMessage(kafkaApis.fetch.response, 12, unframe(frame), 5);
    expect(decoded.responses[0]!.partitions[0]!.currentLeader).toEqual({ leaderId: 2, leaderEpoch: 5 });
    expect(decoded.responses[0]!.partitions[0]!.divergingEpoch).toEqual({ epoch: -1, endOffset: -1 });
  });
});
