/**
 * Share-group requests for broker-level tests, sent one by one over the client library's
 * connection: create a topic, produce, join, fetch (records decoded and matched to their
 * acquired ranges), acknowledge, configs, describe, and a plain fetch to read a DLQ.
 */
import { BrokerConnection } from '../../client/connection.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import {
  Api, type DescribeShareGroupResponse, type GroupConfigEntry, type ShareAckRange, type ShareAckResult, ShareAckType, type ShareFetchResponse,
} from '../../proto/messages.js';
import { buildRecordBatch, type DecodedRecord, decodeRecords, type RecordInput } from '../../proto/record-batch/record-batch.js';

export interface ShareRecord {
  topic: string;
  partition: number;
  offset: number;
  deliveryCount: number;
  value: string;
  headers: Record<string, string>;
  lockExpiresAtMs: number;
}

export const headersOf = (record: DecodedRecord): Record<string, string> =>
  Object.fromEntries(record.headers.map((header) => [header.key, header.value?.toString('utf8') ?? '']));

export class ShareWire {
  readonly connection: BrokerConnection;

  constructor(port: number, clientId = 'share-test') {
    this.connection = new BrokerConnection({ host: '127.0.0.1', port, clientId, requestTimeoutMs: 30_000 });
  }

  close(): void {
    this.connection.close();
  }

  async createTopic(name: string, partitions = 1, configs: Record<string, string> = {}): Promise<void> {
    const answer = await this.connection.request<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name, partitions, configs }] });
    const result = answer.topics[0]!;
    if (result.errorCode !== 0) throw new Error(`create ${name}: ${result.errorMessage}`);
  }

  async produce(topic: string, partition: number, records: Array<string | RecordInput>): Promise<number> {
    const inputs = records.map((record) => (typeof record === 'string' ? { key: null, value: Buffer.from(record) } : record));
    const answer = await this.connection.request<'produce'>(Api.PRODUCE, {
      acks: -1, timeoutMs: 10_000, topics: [{ name: topic, partitions: [{ partition, records: buildRecordBatch(inputs) }] }],
    });
    const result = answer.topics[0]!.partitions[0]!;
    if (result.errorCode !== 0) throw new Error(`produce ${topic}-${partition}: ${result.errorMessage}`);
    return result.baseOffset;
  }

  async heartbeat(groupId: string, memberId: string, topics: string[], options: { maxInFlight?: number; sessionTimeoutMs?: number; leave?: boolean } = {}) {
    return await this.connection.request<'shareHeartbeat'>(Api.SHARE_HEARTBEAT, { groupId, memberId, topics, ...options });
  }

  async join(groupId: string, topics: string[], options: { maxInFlight?: number; sessionTimeoutMs?: number } = {}): Promise<string> {
    const answer = await this.heartbeat(groupId, '', topics, options);
    if (answer.errorCode !== 0) throw new Error(`join ${groupId}: ${answer.errorMessage} (${answer.errorCode})`);
    return answer.memberId;
  }

  async fetchRaw(groupId: string, memberId: string, options: { maxWaitMs?: number; maxRecords?: number; lockMs?: number; acks?: ShareAckRange[] } = {}): Promise<ShareFetchResponse> {
    return await this.connection.request<'shareFetch'>(Api.SHARE_FETCH, { groupId, memberId, maxWaitMs: options.maxWaitMs ?? 0, ...options });
  }

  async fetch(groupId: string, memberId: string, options: { maxWaitMs?: number; maxRecords?: number; lockMs?: number; acks?: ShareAckRange[] } = {}): Promise<{ records: ShareRecord[]; ackResults: ShareAckResult[] }> {
    const answer = await this.fetchRaw(groupId, memberId, options);
    if (answer.errorCode !== 0) throw new Error(`share fetch: ${answer.errorMessage} (${answer.errorCode})`);
    const records: ShareRecord[] = [];
    for (const topic of answer.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== 0) throw new Error(`share fetch ${topic.name}-${partition.partition}: ${partition.errorMessage}`);
        const decoded = new Map<number, DecodedRecord>();
        for (const { position, size } of eachBatch(partition.records)) {
          for (const record of decodeRecords(partition.records.subarray(position, position + size))) decoded.set(record.offset, record);
        }
        for (const range of partition.acquired) {
          for (let offset = range.firstOffset; offset <= range.lastOffset; offset += 1) {
            const record = decoded.get(offset);
            if (record === undefined) continue;
            records.push({
              topic: topic.name, partition: partition.partition, offset, deliveryCount: range.deliveryCount, value: record.value?.toString('utf8') ?? '',
              headers: headersOf(record), lockExpiresAtMs: partition.lockExpiresAtMs,
            });
          }
        }
      }
    }
    return { records, ackResults: answer.ackResults };
  }

  async ack(groupId: string, memberId: string, acks: ShareAckRange[]): Promise<ShareAckResult[]> {
    const answer = await this.connection.request<'shareAcknowledge'>(Api.SHARE_ACKNOWLEDGE, { groupId, memberId, acks });
    if (answer.errorCode !== 0) throw new Error(`share ack: ${answer.errorMessage} (${answer.errorCode})`);
    return answer.results;
  }

  async alterConfigs(groupId: string, set: Record<string, string>, remove: string[] = []): Promise<{ errorCode: number; errorMessage: string }> {
    return await this.connection.request<'alterGroupConfigs'>(Api.ALTER_GROUP_CONFIGS, { groupId, set, delete: remove });
  }

  async describeConfigs(groupId: string): Promise<GroupConfigEntry[]> {
    return (await this.connection.request<'describeGroupConfigs'>(Api.DESCRIBE_GROUP_CONFIGS, { groupId })).configs;
  }

  async describe(groupId: string): Promise<DescribeShareGroupResponse> {
    return await this.connection.request<'describeShareGroup'>(Api.DESCRIBE_SHARE_GROUP, { groupId });
  }

  /** Every record of the partition from `from` (a plain fetch, as a classic consumer reads). */
  async read(topic: string, partition: number, from = 0): Promise<DecodedRecord[]> {
    const records: DecodedRecord[] = [];
    for (let offset = from; ;) {
      const answer = await this.connection.request<'fetch'>(Api.FETCH, {
        maxWaitMs: 0, minBytes: 1, maxBytes: 8 * 1024 * 1024, topics: [{ name: topic, partitions: [{ partition, fetchOffset: offset, maxBytes: 8 * 1024 * 1024 }] }],
      });
      const result = answer.topics[0]!.partitions[0]!;
      if (result.errorCode !== 0) throw new Error(`fetch ${topic}-${partition}: ${result.errorMessage}`);
      const before = records.length;
      for (const { position, size } of eachBatch(result.records)) {
        for (const record of decodeRecords(result.records.subarray(position, position + size))) if (record.offset >= offset) records.push(record);
      }
      if (records.length === before) return records;
      offset = records.at(-1)!.offset + 1;
    }
  }
}

export const accept = (record: ShareRecord): ShareAckRange => ({ topic: record.topic, partition: record.partition, firstOffset: record.offset, lastOffset: record.offset, type: ShareAckType.ACCEPT });
export const release = (record: ShareRecord, delayMs = 0): ShareAckRange => ({ ...accept(record), type: ShareAckType.RELEASE, delayMs });
export const reject = (record: ShareRecord, reason = ''): ShareAckRange => ({ ...accept(record), type: ShareAckType.REJECT, reason });
export const renew = (record: ShareRecord): ShareAckRange => ({ ...accept(record), type: ShareAckType.RENEW });
