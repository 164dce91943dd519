/**
 * Cross-check against a real client's own encoders and decoders: KafkaJS 2.2.4 (a dev
 * dependency once the Kafka listener's e2e tests bring it in; skipped without it). Every request
 * version KafkaJS can send is built by KafkaJS, decoded by Sluice's codec and re-encoded to the
 * same bytes; every response version KafkaJS reads is encoded by Sluice's codec and decoded by
 * KafkaJS, which must find every value that was written. KafkaJS speaks only non-flexible
 * versions, so this checks the classic layouts; golden.test.ts covers flexible ones.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { kafkaApi } from '../../../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../../../proto/kafka/codec.js';
import { type FieldSchema, type KafkaMessageInput, type MessageSchema, inVersions } from '../../../../proto/kafka/schema.js';
import { sampleMessage } from './sample.js';

const require = createRequire(import.meta.url);

interface KafkaJsRequests {
  versions: string[];
  protocol: (options: { version: string }) => (args?: unknown) => {
    request: { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
    response: { decode: (data: Buffer) => Promise<unknown> };
  };
}

function loadKafkaJs(): ((name: string) => KafkaJsRequests) | undefined {
  try {
    require.resolve('kafkajs/src/protocol/requests/produce/index.js');
  } catch {
    return undefined;
  }
  return (name) => require(`kafkajs/src/protocol/requests/${name}/index.js`) as KafkaJsRequests;
}

const kafkaJs = loadKafkaJs();

const topics = [{ topic: 'orders', partitions: [{ partition: 3, fetchOffset: '42', timestamp: -2, offset: '17', maxBytes: 1048576 }] }];

/** Arguments for KafkaJS's request builders, per KafkaJS module name. */
const requestArgs: Record<string, unknown> = {
  apiVersions: undefined,
  produce: {
    acks: -1,
    timeout: 30000,
    transactionalId: null,
    producerId: 7,
    producerEpoch: 1,
    compression: 0,
    topicData: [{ topic: 'orders', partitions: [{ partition: 1, firstSequence: 0, messages: [{ key: 'k', value: 'v', headers: { h: '1' }, timestamp: 1700000000000 }] }] }],
  },
  fetch: {
    replicaId: -1,
    maxWaitTime: 500,
    minBytes: 1,
    maxBytes: 52428800,
    isolationLevel: 1,
    sessionId: 0,
    sessionEpoch: -1,
    rackId: 'rack-a',
    forgottenTopics: [],
    topics,
  },
  metadata: { topics: ['orders', 'payments'], allowAutoTopicCreation: false },
  listOffsets: { replicaId: -1, isolationLevel: 1, topics },
  offsetCommit: { groupId: 'g', groupGenerationId: 4, memberId: 'm-1', retentionTime: -1, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '99', metadata: 'meta' }] }] },
  offsetFetch: { groupId: 'g', topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 1 }] }] },
  findCoordinator: { groupId: 'g', coordinatorKey: 'g', coordinatorType: 0 },
  joinGroup: {
    groupId: 'g',
    sessionTimeout: 30000,
    rebalanceTimeout: 60000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 0x61, 0, 0, 0, 0]) }],
  },
  heartbeat: { groupId: 'g', groupGenerationId: 4, memberId: 'm-1', groupInstanceId: null },
  leaveGroup: { groupId: 'g', memberId: 'm-1', members: [{ memberId: 'm-1', groupInstanceId: null }] },
  syncGroup: { groupId: 'g', generationId: 4, memberId: 'm-1', groupInstanceId: null, groupAssignment: [{ memberId: 'm-1', memberAssignment: Buffer.from([0, 1, 2]) }] },
  describeGroups: { groupIds: ['g', 'h'] },
  listGroups: undefined,
  deleteGroups: ['g', 'h'],
  createTopics: {
    topics: [{ topic: 'new', numPartitions: 6, replicationFactor: 1, replicaAssignment: [], configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    timeout: 5000,
    validateOnly: false,
  },
  deleteTopics: { topics: ['old'], timeout: 5000 },
  deleteRecords: { topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '10' }] }], timeout: 5000 },
  initProducerId: { transactionalId: null, transactionTimeout: 60000 },
  describeConfigs: { resources: [{ type: 2, name: 'orders', configNames: ['retention.ms'] }], includeSynonyms: true },
  createPartitions: { topicPartitions: [{ topic: 'orders', count: 8 }], timeout: 5000, validateOnly: false },
};

/** Every string and number a value holds, as strings (KafkaJS reads int64 as strings). */
function leaves(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') out.add(String(value));
  else if (Buffer.isBuffer(value)) out.add(value.toString('hex'));
  else if (Array.isArray(value)) for (const item of value) leaves(item, out);
  else if (value !== null && typeof value === 'object') {
    if (typeof (value as { toString?: unknown }).toString === 'function' && 'high' in value && 'low' in value) out.add(String(value));
    else for (const item of Object.values(value)) leaves(item, out);
  }
  return out;
}

/** The leaves of the fields `version` has (the others decode to defaults that are not on the wire). */
function presentLeaves(fields: readonly FieldSchema[], version: number, value: unknown, out = new Set<string>()): Set<string> {
  const record = value as Record<string, unknown>;
  for (const field of fields) {
    if (!inVersions(field.versions, version) || field.type === 'records') continue;
    const inner = record[field.name];
    if ('fields' in field) {
      for (const item of Array.isArray(inner) ? inner : [inner]) if (item !== null) presentLeaves(field.fields, version, item, out);
    } else {
      leaves(inner, out);
    }
  }
  return out;
}

/** The values Sluice writes for a response, with empty records (KafkaJS would parse the sample's as batches). */
function responseSample(schema: MessageSchema, version: number): Record<string, unknown> {
  const { input } = sampleMessage(schema, version, 'full');
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, key === 'records' ? Buffer.alloc(0) : strip(inner)]));
  };
  return strip(input) as Record<string, unknown>;
}

describe.skipIf(kafkaJs === undefined)('interop with KafkaJS 2.2.4 encoders and decoders', () => {
  for (const [name, args] of Object.entries(requestArgs)) {
    it(`${name}: every version KafkaJS speaks`, async () => {
      const definitions = kafkaJs!(name);
      for (const version of definitions.versions) {
        const { request, response } = definitions.protocol({ version })(args);
        const api = kafkaApi(request.apiKey)!;
        const label = `${api.name} v${version}`;

        const body = (await request.encode()).buffer;
        const decoded = decodeMessage(api.request, request.apiVersion, body);
        const again = Buffer.concat(encodeMessage(api.request, request.apiVersion, decoded));
        expect(again.toString('hex'), `${label} request re-encodes to KafkaJS's bytes`).toBe(body.toString('hex'));

        const value = responseSample(api.response, request.apiVersion);
        const encoded = Buffer.concat(encodeMessage(api.response, request.apiVersion, value as KafkaMessageInput<MessageSchema>));
        const read = leaves(await response.decode(encoded));
        const written = [...presentLeaves(api.response.fields, request.apiVersion, decodeMessage(api.response, request.apiVersion, encoded))];
        expect(written.filter((leaf) => !read.has(leaf)), `${label} response values KafkaJS did not read`).toEqual([]);
      }
    });
  }
});
