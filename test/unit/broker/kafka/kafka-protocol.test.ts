/**
 * The Kafka protocol over an in-process broker context: a Fetch answer carries the record bytes
 * as the very slices of the mapped segment (nothing copied between the log and the socket), and
 * answers are written in request order even when a later request finishes first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerContext } from '../../../../broker/api/context.js';
import { StopSignal } from '../../../../broker/api/stop-signal.js';
import { GroupCoordinator } from '../../../../broker/groups/coordinator.js';
import { KafkaProtocol } from '../../../../broker/kafka/kafka-protocol.js';
import type { ConnectionIo } from '../../../../broker/protocol/connection.js';
import { SingleBroker } from '../../../../broker/topics/single-broker.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { fetchRequest } from '../../../../proto/kafka/messages/fetch.js';
import { metadataRequest } from '../../../../proto/kafka/messages/metadata.js';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';
import { requestFrame } from '../../../helpers/kafka-wire.js';

let directory: string;
let topics: TopicManager;
let context: BrokerContext;
const stopping = new StopSignal();

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-kafka-protocol-'));
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  topics.create('orders', 1, {});
  const self = { nodeId: 0, host: '127.0.0.1', port: 9400 };
  context = {
    cluster: new SingleBroker(topics, () => self, () => ({ ...self, port: 9092 })), topics, logger: pino({ level: 'silent' }),
    offsets: undefined as never, groups: new GroupCoordinator({ initialRebalanceDelayMs: 1 }), stopping, transactions: undefined as never,
    settings: { nodeId: 0, advertisedHost: self.host, advertisedPort: self.port, autoCreateTopics: false, defaultPartitions: 1, fetchBytesMax: 1 << 20 },
    metrics: { recordsOut: () => {}, recordsIn: () => {}, observeRequest: () => {} } as never,
    topicOrAutoCreate: (name) => topics.find(name),
    producerIds: undefined as never,
  };
});
afterEach(() => {
  context.groups.close();
  topics.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

function recordingIo(): ConnectionIo & { written: Buffer[][] } {
  const written: Buffer[][] = [];
  return { logger: context.logger, written, write: (...buffers) => { written.push(buffers); }, close: () => { written.push([]); } };
}

/** The frame as the connection hands it over: without its size prefix. */
const body = (frame: Buffer) => frame.subarray(4);

const fetchFrame = (correlationId: number, maxWaitMs: number) => requestFrame(fetchRequest, 11, correlationId, {
  maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
  topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
});

describe('the Kafka protocol on a connection', () => {
  it('writes a fetch\'s records as the mapped segment\'s own bytes', async () => {
    const log = topics.partition('orders', 0).log;
    log.append(buildRecordBatch([{ key: null, value: Buffer.from('zero copy') }]));
    const mapped = log.read(0, 1 << 20).slices[0]!;
    const io = recordingIo();
    await new KafkaProtocol(context).handle(body(fetchFrame(1, 0)), io);
    expect(io.written).toHaveLength(1);
    const records = io.written[0]!.find((chunk) => chunk.length === mapped.length && chunk.buffer === mapped.buffer && chunk.byteOffset === mapped.byteOffset);
    expect(records).toBeDefined();
  });

  it('writes answers in request order when a later request finishes first', async () => {
    const io = recordingIo();
    const protocol = new KafkaProtocol(context);
    const metadata = requestFrame(metadataRequest, 1, 2, { topics: null });
    const fetched = protocol.handle(body(fetchFrame(1, 200)), io);
    const described = protocol.handle(body(metadata), io);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The metadata answer is ready, but waits behind the long poll.
    expect(io.written).toHaveLength(0);
    await Promise.all([fetched, described]);
    expect(io.written.map((chunks) => chunks[0]!.readInt32BE(4))).toEqual([1, 2]);
  });
});
