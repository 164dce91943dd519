/**
 * Fuzzing the Kafka listener of a live broker: 10,000 random, mutated, truncated and lying
 * frames over many connections (closed by the broker and opened again, as Kafka closes on a
 * request it cannot read), while a KafkaJS producer and a KafkaJS group consumer keep working.
 * The broker must never exit, the good clients must see no error and get every record. The
 * seed is in the test name; SLUICE_SEED replays one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaApis } from '../../proto/kafka/apis.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';
import { KafkaWire, requestFrame } from '../helpers/kafka-wire.js';
import { seededRandom } from '../helpers/random.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const seed = Number(process.env.SLUICE_SEED ?? 9092);
const framesTotal = 10_000;

/** Valid requests of many APIs and versions, old and flexible, aimed at the fuzzer's own topic and group. */
function seedFrames(): Buffer[] {
  const records = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('fuzz value'), headers: [{ key: 'h', value: Buffer.from('v') }] }]);
  const apis = kafkaApis;
  const fetchBody = {
    maxWaitMs: 0, minBytes: 1, maxBytes: 4096, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'fuzz', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 2048 }] }], forgottenTopicsData: [], rackId: '',
  };
  return [
    requestFrame(apis.apiVersions.request, 3, 1, { clientSoftwareName: 'fuzzer', clientSoftwareVersion: '1' }),
    requestFrame(apis.metadata.request, 1, 2, { topics: [{ name: 'fuzz' }] }),
    requestFrame(apis.metadata.request, 12, 3, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'fuzz' }], allowAutoTopicCreation: false }),
    requestFrame(apis.produce.request, 7, 4, { transactionalId: null, acks: 1, timeoutMs: 100, topicData: [{ name: 'fuzz', partitionData: [{ index: 0, records }] }] }),
    requestFrame(apis.produce.request, 9, 5, { transactionalId: null, acks: -1, timeoutMs: 100, topicData: [{ name: 'fuzz', partitionData: [{ index: 0, records }] }] }),
    requestFrame(apis.fetch.request, 4, 6, fetchBody),
    requestFrame(apis.fetch.request, 12, 7, fetchBody),
    requestFrame(apis.listOffsets.request, 1, 8, { replicaId: -1, topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0, timestamp: -2 }] }] }),
    requestFrame(apis.listOffsets.request, 7, 9, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0, timestamp: 5 }] }] }),
    requestFrame(apis.findCoordinator.request, 4, 10, { keyType: 0, coordinatorKeys: ['fuzz-group'] }),
    requestFrame(apis.heartbeat.request, 4, 11, { groupId: 'fuzz-group', generationId: 1, memberId: 'nobody' }),
    requestFrame(apis.offsetFetch.request, 8, 12, { groups: [{ groupId: 'fuzz-group', topics: null }] }),
    requestFrame(apis.describeGroups.request, 5, 13, { groups: ['fuzz-group'], includeAuthorizedOperations: false }),
    requestFrame(apis.listGroups.request, 4, 14, { statesFilter: [] }),
    requestFrame(apis.describeConfigs.request, 4, 15, { resources: [{ resourceType: 2, resourceName: 'fuzz', configurationKeys: null }] }),
  ].map((frame) => frame.subarray(4));
}

function framed(message: Buffer, declared = message.length): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(declared, 0);
  return Buffer.concat([size, message]);
}

function mutate(random: () => number, seeds: Buffer[]): Buffer {
  const integer = (limit: number) => Math.floor(random() * limit);
  const kind = integer(10);
  if (kind < 2) return framed(Buffer.from(Array.from({ length: integer(200) }, () => integer(256))));
  const message = Buffer.from(seeds[integer(seeds.length)]!);
  if (kind < 7) {
    for (let flips = 1 + integer(4); flips > 0; flips -= 1) message[integer(message.length)] = integer(256);
    return framed(message);
  }
  if (kind < 9) return framed(message.subarray(0, integer(message.length)));
  // A length prefix that lies: shorter than the message (the rest reads as the next frame).
  return framed(message, integer(message.length));
}

describe('fuzzing the Kafka listener', () => {
  let broker: BrokerProcess;
  afterAll(cleanupBrokers);

  it(`survives ${framesTotal} fuzzed frames while a KafkaJS producer and group consumer keep working (seed ${seed})`, async () => {
    broker = await startBroker({ args: ['--max-frame-bytes', String(1024 * 1024), '--group-initial-rebalance-delay-ms', '100'] });
    const { kafka, logs } = kafkajs(broker.kafkaBootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'good', numPartitions: 2 }, { topic: 'fuzz', numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    const consumer = kafka.consumer({ groupId: 'good-group', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'good', fromBeginning: true });
    const received = new Set<string>();
    await consumer.run({ eachMessage: async ({ message }) => { received.add(message.value!.toString()); } });

    let stop = false;
    let sent = 0;
    const errors: unknown[] = [];
    const goodClient = (async () => {
      while (!stop) {
        try {
          await producer.send({ topic: 'good', acks: -1, messages: Array.from({ length: 20 }, (_, index) => ({ value: `good-${sent + index}` })) });
          sent += 20;
        } catch (error) {
          errors.push(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    // Four connections, one frame at a time each, so every frame reaches the broker: after each,
    // the broker answers it, closes the connection (Kafka's way with a request it cannot read),
    // or waits for more bytes (a frame cut short by a lying length prefix) — then a fresh one.
    const random = seededRandom(seed);
    const seeds = seedFrames();
    const outcomes = { answered: 0, closed: 0, waiting: 0 };
    const deadline = Date.now() + 150_000;
    let next = 0;
    await Promise.all([0, 1, 2, 3].map(async () => {
      let wire = await KafkaWire.connect(broker.kafkaPort);
      while (next < framesTotal && Date.now() < deadline) {
        next += 1;
        const before = wire.frames.length;
        wire.send(mutate(random, seeds));
        await wire.frame(before + 1, 50);
        if (wire.frames.length > before) {
          outcomes.answered += 1;
          continue;
        }
        if (wire.closed) outcomes.closed += 1;
        else outcomes.waiting += 1;
        wire.close();
        wire = await KafkaWire.connect(broker.kafkaPort);
      }
      wire.close();
    }));
    expect(outcomes.answered + outcomes.closed + outcomes.waiting).toBe(framesTotal);
    expect(outcomes.answered).toBeGreaterThan(framesTotal / 20);
    expect(outcomes.closed).toBeGreaterThan(framesTotal / 2);
    expect(broker.child.exitCode).toBeNull();

    stop = true;
    await goodClient;
    expect(errors).toEqual([]);
    expect(sent).toBeGreaterThan(0);
    await waitFor(`the consumer to get all ${sent} records`, () => received.size === sent, 30_000);
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
    expect(logs.filter((line) => line.startsWith('ERROR'))).toEqual([]);
    expect((await broker.stop()).code).toBe(0);
  }, 240_000);
});
