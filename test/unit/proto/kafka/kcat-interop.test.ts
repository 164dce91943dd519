/**
 * librdkafka (through kcat, Debian's package: kcat 1.7.1 on librdkafka 2.0.2) against a fake
 * broker built from nothing but this codec: it answers ApiVersions, Metadata and Produce on
 * 127.0.0.1, port 0. kcat must list the fake cluster and produce to it; every request it sent
 * must decode and re-encode to exactly its bytes. Skipped where kcat is not installed.
 *
 * With KAFKA_FIXTURES=write the frames kcat sent are saved under fixtures/ as golden bytes,
 * which fixtures.test.ts checks on every run, kcat or not.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameReader } from '../../../../proto/frame-reader.js';
import { ApiKey, advertisedApiVersions, isVersionServed, kafkaApi, kafkaApis } from '../../../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import { kafkaErrorCodes } from '../../../../proto/kafka/error-codes.js';
import { decodeRequestHeader, encodeResponseFrame } from '../../../../proto/kafka/header.js';
import type { FetchRequest } from '../../../../proto/kafka/messages/fetch.js';
import type { FindCoordinatorRequest } from '../../../../proto/kafka/messages/find-coordinator.js';
import type { JoinGroupRequest } from '../../../../proto/kafka/messages/join-group.js';
import type { LeaveGroupRequest } from '../../../../proto/kafka/messages/leave-group.js';
import type { ListOffsetsRequest } from '../../../../proto/kafka/messages/list-offsets.js';
import type { MetadataRequest } from '../../../../proto/kafka/messages/metadata.js';
import type { OffsetCommitRequest } from '../../../../proto/kafka/messages/offset-commit.js';
import type { OffsetFetchRequest } from '../../../../proto/kafka/messages/offset-fetch.js';
import type { OffsetForLeaderEpochRequest } from '../../../../proto/kafka/messages/offset-for-leader-epoch.js';
import type { ProduceRequest } from '../../../../proto/kafka/messages/produce.js';
import type { SyncGroupRequest } from '../../../../proto/kafka/messages/sync-group.js';

function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Captured {
  apiKey: number;
  apiVersion: number;
  frame: Buffer;
  body: unknown;
}

const topic = 'codec-test';
const topicId = '6b1f8f3c-2a4d-4e5f-9a0b-1c2d3e4f5a6b';

/** A broker of one node that knows one topic of two partitions and accepts every produce. */
class FakeBroker {
  readonly captured: Captured[] = [];
  readonly failures: string[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private nextOffset = 0;

  constructor() {
    this.server = createServer((socket) => this.serve(socket));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      reader.push(chunk as Buffer);
      for (let frame = reader.take(); frame !== undefined; frame = reader.take()) {
        try {
          const response = this.answer(Buffer.from(frame), (socket.address() as AddressInfo).port);
          if (response !== undefined) socket.write(Buffer.concat(response));
        } catch (error) {
          this.failures.push(String(error));
          socket.destroy();
        }
      }
    });
  }

  private answer(frame: Buffer, port: number): Buffer[] | undefined {
    const header = decodeRequestHeader(frame);
    const api = kafkaApi(header.apiKey);
    if (api === undefined) throw new Error(`kcat sent API key ${header.apiKey}, which the fake broker does not know`);
    if (header.apiKey === ApiKey.ApiVersions && !isVersionServed(header.apiKey, header.apiVersion)) {
      const body = encodeMessage(api.response, 0, { errorCode: kafkaErrorCodes.UNSUPPORTED_VERSION, apiKeys: advertisedApiVersions() });
      return encodeResponseFrame(header.apiKey, 0, header.correlationId, body);
    }
    const body = decodeMessage(api.request, header.apiVersion, frame, header.bodyOffset);
    this.captured.push({ apiKey: header.apiKey, apiVersion: header.apiVersion, frame, body });
    const version = header.apiVersion;
    switch (header.apiKey) {
      case ApiKey.ApiVersions:
        return encodeResponseFrame(header.apiKey, version, header.correlationId,
          encodeMessage(api.response, version, { errorCode: 0, apiKeys: advertisedApiVersions(), throttleTimeMs: 0 }));
      case ApiKey.Metadata: {
        const request = body as unknown as MetadataRequest;
        const names = request.topics === null || (version === 0 && request.topics.length === 0) ? [topic] : request.topics.map((t) => t.name ?? '');
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.metadata.response, version, {
          throttleTimeMs: 0,
          brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }],
          clusterId: 'sluice-codec-test',
          controllerId: 1,
          topics: names.map((name) => ({
            errorCode: name === topic ? 0 : kafkaErrorCodes.UNKNOWN_TOPIC_OR_PARTITION,
            name,
            topicId: name === topic ? topicId : '00000000-0000-0000-0000-000000000000',
            isInternal: false,
            partitions: name !== topic ? [] : [0, 1].map((partitionIndex) => ({
              errorCode: 0, partitionIndex, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [],
            })),
            topicAuthorizedOperations: -2147483648,
          })),
        }));
      }
      case ApiKey.Produce: {
        const request = body as unknown as ProduceRequest;
        const response = encodeMessage(kafkaApis.produce.response, version, {
          responses: request.topicData.map((data) => ({
            name: data.name,
            partitionResponses: data.partitionData.map((partition) => ({
              index: partition.index, errorCode: 0, baseOffset: this.nextOffset++, logAppendTimeMs: -1, logStartOffset: 0,
            })),
          })),
          throttleTimeMs: 0,
        });
        return request.acks === 0 ? undefined : encodeResponseFrame(header.apiKey, version, header.correlationId, response);
      }
      case ApiKey.ListOffsets: {
        // Every partition is empty: earliest and latest are both offset 0.
        const request = body as unknown as ListOffsetsRequest;
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.listOffsets.response, version, {
          throttleTimeMs: 0,
          topics: request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [0], timestamp: -1, offset: 0, leaderEpoch: 0 })),
          })),
        }));
      }
      case ApiKey.OffsetForLeaderEpoch: {
        const request = body as unknown as OffsetForLeaderEpochRequest;
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.offsetForLeaderEpoch.response, version, {
          throttleTimeMs: 0,
          topics: request.topics.map((t) => ({
            topic: t.topic,
            partitions: t.partitions.map((p) => ({ errorCode: 0, partition: p.partition, leaderEpoch: 0, endOffset: 0 })),
          })),
        }));
      }
      case ApiKey.Fetch: {
        const request = body as unknown as FetchRequest;
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.fetch.response, version, {
          throttleTimeMs: 0,
          errorCode: 0,
          sessionId: 0,
          responses: request.topics.map((t) => ({
            topic: t.topic,
            topicId: t.topicId,
            partitions: t.partitions.map((p) => ({
              partitionIndex: p.partition, errorCode: 0, highWatermark: 0, lastStableOffset: 0, logStartOffset: 0,
              abortedTransactions: null, preferredReadReplica: -1, records: Buffer.alloc(0),
            })),
          })),
        }));
      }
      case ApiKey.FindCoordinator: {
        const request = body as unknown as FindCoordinatorRequest;
        const keys = version >= 4 ? request.coordinatorKeys : [request.key];
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.findCoordinator.response, version, {
          throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 1, host: '127.0.0.1', port,
          coordinators: keys.map((key) => ({ key, nodeId: 1, host: '127.0.0.1', port, errorCode: 0, errorMessage: null })),
        }));
      }
      case ApiKey.JoinGroup: {
        // A group of one: the member leads, its own subscription is the only one.
        const request = body as unknown as JoinGroupRequest;
        const memberId = request.memberId === '' ? 'member-1' : request.memberId;
        const protocol = request.protocols[0]!;
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.joinGroup.response, version, {
          throttleTimeMs: 0, errorCode: 0, generationId: 1, protocolType: request.protocolType, protocolName: protocol.name,
          leader: memberId, skipAssignment: false, memberId,
          members: [{ memberId, groupInstanceId: request.groupInstanceId, metadata: protocol.metadata }],
        }));
      }
      case ApiKey.SyncGroup: {
        const request = body as unknown as SyncGroupRequest;
        const own = request.assignments.find((assignment) => assignment.memberId === request.memberId);
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.syncGroup.response, version, {
          throttleTimeMs: 0, errorCode: 0, protocolType: request.protocolType, protocolName: request.protocolName,
          assignment: own?.assignment ?? Buffer.alloc(0),
        }));
      }
      case ApiKey.OffsetFetch: {
        // Nothing committed yet: offset −1 for every partition asked for.
        const request = body as unknown as OffsetFetchRequest;
        const partitions = (topics: Array<{ name: string; partitionIndexes: number[] }> | null) =>
          (topics ?? []).map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: 0 })),
          }));
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.offsetFetch.response, version, {
          throttleTimeMs: 0, errorCode: 0, topics: partitions(request.topics),
          groups: request.groups.map((group) => ({ groupId: group.groupId, topics: partitions(group.topics), errorCode: 0 })),
        }));
      }
      case ApiKey.OffsetCommit: {
        const request = body as unknown as OffsetCommitRequest;
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.offsetCommit.response, version, {
          throttleTimeMs: 0,
          topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0 })) })),
        }));
      }
      case ApiKey.Heartbeat:
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.heartbeat.response, version, { throttleTimeMs: 0, errorCode: 0 }));
      case ApiKey.LeaveGroup: {
        const request = body as unknown as LeaveGroupRequest;
        return encodeResponseFrame(header.apiKey, version, header.correlationId, encodeMessage(kafkaApis.leaveGroup.response, version, {
          throttleTimeMs: 0, errorCode: 0,
          members: request.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: 0 })),
        }));
      }
      default:
        throw new Error(`kcat sent ${api.name} v${version}, which the fake broker does not answer`);
    }
  }
}

function runKcat(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

describe.skipIf(!hasKcat())('librdkafka 2.0.2 (kcat) against a fake broker made of this codec', () => {
  const broker = new FakeBroker();
  let port = 0;

  beforeAll(async () => {
    port = await broker.start();
  });

  afterAll(async () => {
    await broker.stop();
    if (process.env.KAFKA_FIXTURES === 'write') writeFixtures(broker.captured);
  });

  it('lists brokers, topics and partitions (ApiVersions v3 then flexible Metadata)', async () => {
    const { code, stdout, stderr } = await runKcat(['-b', `127.0.0.1:${port}`, '-L', '-m', '10']);
    expect(broker.failures).toEqual([]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`broker 1 at 127.0.0.1:${port}`);
    expect(stdout).toContain(`topic "${topic}" with 2 partitions`);
    expect(stdout).toMatch(/partition 1, leader 1, replicas: 1, isrs: 1/);
    const first = broker.captured[0]!;
    expect(first.apiKey).toBe(ApiKey.ApiVersions);
    expect(first.apiVersion).toBe(3);
    expect(first.body).toMatchObject({ clientSoftwareName: 'librdkafka' });
  });

  it('produces, with records passed through as bytes', async () => {
    const { code, stderr } = await runKcat(['-b', `127.0.0.1:${port}`, '-P', '-t', topic, '-p', '1'], 'hello\nworld\n');
    expect(broker.failures).toEqual([]);
    expect(code, stderr).toBe(0);
    const produce = broker.captured.filter((entry) => entry.apiKey === ApiKey.Produce);
    expect(produce.length).toBeGreaterThan(0);
    const records = Buffer.concat(produce.flatMap((entry) =>
      (entry.body as ProduceRequest).topicData.flatMap((data) => data.partitionData.map((p) => p.records ?? Buffer.alloc(0)))));
    expect(records.includes('hello')).toBe(true);
    expect(records.includes('world')).toBe(true);
  });

  it('consumes an empty partition to its end (ListOffsets, Fetch)', async () => {
    const { code, stderr } = await runKcat(['-b', `127.0.0.1:${port}`, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e']);
    expect(broker.failures).toEqual([]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('Reached end of topic');
    expect(broker.captured.some((entry) => entry.apiKey === ApiKey.Fetch)).toBe(true);
  });

  it('joins a consumer group of one, reads to the end and leaves (FindCoordinator … LeaveGroup)', async () => {
    const { code, stderr } = await runKcat(['-b', `127.0.0.1:${port}`, '-G', 'codec-group', '-e', '-X', 'auto.offset.reset=earliest', topic]);
    expect(broker.failures).toEqual([]);
    expect(code, stderr).toBe(0);
    const used = new Set(broker.captured.map((entry) => entry.apiKey));
    for (const apiKey of [ApiKey.FindCoordinator, ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.OffsetFetch, ApiKey.LeaveGroup]) {
      expect(used.has(apiKey), `${kafkaApi(apiKey)!.name}`).toBe(true);
    }
  });

  it('got requests that re-encode to exactly the bytes kcat sent', () => {
    expect(broker.captured.length).toBeGreaterThan(3);
    for (const { apiKey, apiVersion, frame, body } of broker.captured) {
      const api = kafkaApi(apiKey)!;
      const { bodyOffset } = decodeRequestHeader(frame);
      const again = Buffer.concat(encodeMessage(api.request, apiVersion, body as never));
      expect(again.toString('hex'), `${api.name} v${apiVersion}`).toBe(frame.subarray(bodyOffset).toString('hex'));
    }
  });
});

/** One fixture per API and version kcat used: the request frame (no size prefix) as hex. */
function writeFixtures(captured: Captured[]): void {
  const directory = new URL('./fixtures/librdkafka-2.0.2/', import.meta.url);
  mkdirSync(directory, { recursive: true });
  const seen = new Set<string>();
  for (const { apiKey, apiVersion, frame } of captured) {
    const name = `${kafkaApi(apiKey)!.name}-v${apiVersion}.hex`;
    if (seen.has(name)) continue;
    seen.add(name);
    writeFileSync(new URL(name, directory), `${frame.toString('hex').replace(/(.{64})/g, '$1\n').trim()}\n`);
  }
}
