/**
 * Exact looks at one broker of a test cluster, for tests that must see answer codes and state
 * the client library would hide or retry: a produce to one broker with given acks and timeout
 * (its per-partition error code and how long the answer took), a consumer fetch up to the high
 * watermark, its Metadata answer, the broker's own view of a partition (GET /v1/topics/:name), one metric, and a
 * wait for a log line.
 */
import type { Admin } from '../../client/admin.js';
import { BrokerConnection } from '../../client/connection.js';
import { SluiceError } from '../../proto/errors.js';
import { Api, type FetchPartitionResult, type PartitionMetadata } from '../../proto/messages.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { buildRecordBatch, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { waitFor } from './broker-process.js';
import type { ClusterBroker } from './cluster.js';

export interface ProduceAnswer {
  errorCode: number;
  errorMessage: string;
  baseOffset: number;
  /** From sending the request to its answer. */
  elapsedMs: number;
}

/** One connection per broker address, reused; closed by `closeProbes()`. */
const connections = new Map<string, BrokerConnection>();

function connection(broker: ClusterBroker): BrokerConnection {
  const address = `127.0.0.1:${broker.port}`;
  let found = connections.get(address);
  if (found === undefined) {
    found = new BrokerConnection({ host: '127.0.0.1', port: broker.port, clientId: 'cluster-probe', connectTimeoutMs: 2000, reconnectBackoffMaxMs: 100 });
    connections.set(address, found);
  }
  return found;
}

export function closeProbes(): void {
  for (const found of connections.values()) found.close();
  connections.clear();
}

/** Produces one batch of `values` to one partition on exactly this broker: no retries, no redirect. */
export async function produceTo(
  broker: ClusterBroker, topic: string, partition: number, values: string[], acks: -1 | 1, timeoutMs: number,
): Promise<ProduceAnswer> {
  const records = buildRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })));
  const started = Date.now();
  const response = await connection(broker).request<'produce'>(Api.PRODUCE, {
    acks, timeoutMs, topics: [{ name: topic, partitions: [{ partition, records }] }],
  }, { timeoutMs: timeoutMs + 10_000 });
  const result = response.topics[0]!.partitions[0]!;
  return { errorCode: result.errorCode, errorMessage: result.errorMessage, baseOffset: result.baseOffset, elapsedMs: Date.now() - started };
}

export interface FetchedRecord {
  offset: number;
  value: string;
}

/**
 * A consumer fetch (no replica id: read up to the high watermark) from this broker, answered at
 * once (maxWaitMs 0, so it never parks there).
 */
export async function consumerFetch(
  broker: ClusterBroker, topic: string, partition: number, fetchOffset: number, timeoutMs = 2000,
): Promise<{ result: FetchPartitionResult; records: FetchedRecord[] }> {
  const response = await connection(broker).request<'fetch'>(Api.FETCH, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ name: topic, partitions: [{ partition, fetchOffset, maxBytes: 1 << 20 }] }],
  }, { timeoutMs });
  const result = response.topics[0]!.partitions[0]!;
  const records: FetchedRecord[] = [];
  const bytes = result.records ?? Buffer.alloc(0);
  for (const { position, size } of eachBatch(bytes)) {
    for (const record of decodeRecords(bytes.subarray(position, position + size))) {
      if (record.offset >= fetchOffset) records.push({ offset: record.offset, value: record.value?.toString() ?? '' });
    }
  }
  return { result, records };
}

/** The partition as this broker's Metadata answer gives it (leader −1: offline). */
export async function metadataFrom(broker: ClusterBroker, topic: string, partition: number): Promise<PartitionMetadata> {
  const response = await connection(broker).request<'metadata'>(Api.METADATA, { topics: [topic] }, { timeoutMs: 2000 });
  const found = response.topics.find((entry) => entry.name === topic)?.partitions.find((entry) => entry.partition === partition);
  if (found === undefined) throw new Error(`broker ${broker.nodeId} has no metadata for ${topic}-${partition}`);
  return found;
}

export interface BrokerPartitionView {
  partition: number;
  role: 'leader' | 'follower' | 'none';
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  highWatermark: number;
  logEndOffset: number;
}

function httpPort(broker: ClusterBroker): number {
  if (broker.process === undefined) throw new Error(`broker ${broker.nodeId} is not running`);
  return broker.process.httpPort;
}

/** The partition as this broker sees it (its role, ISR, high watermark and log end). */
export async function partitionOn(broker: ClusterBroker, topic: string, partition: number): Promise<BrokerPartitionView> {
  const response = await fetch(`http://127.0.0.1:${httpPort(broker)}/v1/topics/${topic}`, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`GET /v1/topics/${topic} on broker ${broker.nodeId} answered ${response.status}`);
  const body = await response.json() as { partitions: BrokerPartitionView[] };
  const found = body.partitions.find((entry) => entry.partition === partition);
  if (found === undefined) throw new Error(`broker ${broker.nodeId} has no ${topic}-${partition}`);
  return found;
}

/** The value of an unlabelled metric on this broker's /metrics. */
export async function metric(broker: ClusterBroker, name: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${httpPort(broker)}/metrics`, { signal: AbortSignal.timeout(2000) });
  const text = await response.text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  if (line === undefined) throw new Error(`broker ${broker.nodeId} has no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

/** Waits for a log line of this broker (any of its runs) whose `msg` is `message`; returns it parsed. */
export async function waitForLogLine(broker: ClusterBroker, message: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(`broker ${broker.nodeId} to log "${message}"`, () => {
    for (const line of broker.logs()) {
      if (!line.includes(message)) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === message) {
          found = parsed;
          return true;
        }
      } catch {
        // A stderr chunk, not a log line.
      }
    }
    return false;
  }, timeoutMs);
  return found!;
}

/**
 * Creates a topic once the controller has seen every broker register: right after the brokers
 * are ready its watch may still be a registration behind, and it refuses a replication factor
 * above the brokers it knows (INVALID_REPLICATION_FACTOR).
 */
export async function createTopicOnceRegistered(admin: Admin, name: string, options: Parameters<Admin['createTopic']>[1]): Promise<void> {
  await waitFor(`the controller to accept topic ${name}`, async () => {
    try {
      await admin.createTopic(name, options);
      return true;
    } catch (error) {
      if (SluiceError.is(error) && error.code === 'SLUICE_ERR_INVALID_REPLICATION_FACTOR') return false;
      throw error;
    }
  }, 10_000);
}
