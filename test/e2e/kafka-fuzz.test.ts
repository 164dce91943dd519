/**
 * Fuzzing the Kafka listener of a live broker: 10,000 random, mutated, truncated and lying
 * frames, frames declaring sizes over the limit or below zero, valid headers with garbage bodies,
 * unknown API keys and unserved versions, over four connections at once, while a KafkaJS producer
 * and a KafkaJS group consumer keep working. The broker must never exit, the good clients must
 * see no error and get every record, and the broker's log must say why it closed each connection
 * it closed.
 *
 * Each fuzzed frame is followed by an ApiVersions probe, and the next frame waits until the probe
 * is answered or the broker closed the connection (then a new one is opened, as Kafka clients
 * do): so the broker really reads every one of the 10,000 frames, rather than dropping most of
 * them unread behind the first that closed its connection. A frame that leaves the stream
 * mid-frame (a lying length) answers neither; after a short wait the test closes that connection
 * itself. The frames are drawn up front from the seed in the test name; SLUICE_SEED replays one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaApis } from '../../proto/kafka/apis.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';
import { KafkaWire, requestFrame, requestFrameOf } from '../helpers/kafka-wire.js';
import { seededRandom } from '../helpers/random.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const seed = Number(process.env.SLUICE_SEED ?? 9092);
const framesTotal = 10_000;
const connections = 4;
const maxFrameBytes = 1024 * 1024;
/** How long a frame may leave its connection without an answer to the probe behind it (a stream left mid-frame, a long poll). */
const quietMs = 100;

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

/** Kinds whose frame the broker must refuse by closing the connection, and the words its log gives as the reason. */
const mustClose = {
  oversized: 'closing connection after a bad frame',
  'unknown-api-key': 'unknown API key',
  'unserved-version': 'is not served',
} as const;

type Kind = 'random' | 'mutated' | 'truncated' | 'lying-length' | 'garbage-body' | keyof typeof mustClose;

interface Fuzzed {
  kind: Kind;
  bytes: Buffer;
}

const servedApis = Object.values(kafkaApis);
const probedApis = servedApis.filter((api) => api !== kafkaApis.apiVersions);

function fuzzed(random: () => number, seeds: Buffer[]): Fuzzed {
  const integer = (limit: number) => Math.floor(random() * limit);
  const garbage = (length: number) => Buffer.from(Array.from({ length }, () => integer(256)));
  const pick = integer(14);
  if (pick < 2) return { kind: 'random', bytes: framed(garbage(integer(200))) };
  const message = Buffer.from(seeds[integer(seeds.length)]!);
  if (pick < 6) {
    for (let flips = 1 + integer(4); flips > 0; flips -= 1) message[integer(message.length)] = integer(256);
    return { kind: 'mutated', bytes: framed(message) };
  }
  if (pick < 8) return { kind: 'truncated', bytes: framed(message.subarray(0, integer(message.length))) };
  // A length prefix that lies: shorter than the message (the rest reads as the next frame).
  if (pick < 9) return { kind: 'lying-length', bytes: framed(message, integer(message.length)) };
  // A size over the frame limit (up to int32's maximum) or below zero, with a few bytes behind it.
  if (pick < 10) {
    const declared = integer(2) === 0 ? maxFrameBytes + 1 + integer(2 ** 31 - 2 - maxFrameBytes) : -1 - integer(2 ** 31 - 1);
    return { kind: 'oversized', bytes: framed(message.subarray(0, integer(16)), declared) };
  }
  // A valid header of a served API and version before a body of garbage.
  if (pick < 12) {
    const api = servedApis[integer(servedApis.length)]!;
    const version = api.minVersion + integer(api.maxVersion - api.minVersion + 1);
    return { kind: 'garbage-body', bytes: requestFrameOf(api.apiKey, version, integer(2 ** 31), garbage(integer(300)), 'fuzzer') };
  }
  // A valid body behind an API key Sluice does not serve (Kafka's own unserved ones and made-up ones) ...
  const body = message.subarray(10 + message.readInt16BE(8));
  if (pick < 13) {
    const apiKey = [4, 5, 6, 7, 17, 29, 50, 68, 1000, 32_767, -1][integer(11)]!;
    return { kind: 'unknown-api-key', bytes: requestFrameOf(apiKey, integer(5), integer(2 ** 31), body, 'fuzzer') };
  }
  // ... or behind a served API at a version it does not serve (ApiVersions answers those: KIP-511).
  const api = probedApis[integer(probedApis.length)]!;
  const version = integer(2) === 0 || api.minVersion === 0 ? api.maxVersion + 1 + integer(100) : integer(api.minVersion);
  return { kind: 'unserved-version', bytes: requestFrameOf(api.apiKey, version, integer(2 ** 31), body, 'fuzzer') };
}

/** The broker's lines saying it closes a connection, by the client's port (ports come round again over thousands of connections). */
function closeLines(logs: readonly string[]): Map<number, Array<{ time: number; line: string }>> {
  const byPort = new Map<number, Array<{ time: number; line: string }>>();
  for (const line of logs) {
    if (!line.includes('closing')) continue;
    const entry = JSON.parse(line) as { time: number; remote?: string };
    const port = Number(entry.remote?.split(':')[1]);
    if (!byPort.has(port)) byPort.set(port, []);
    byPort.get(port)!.push({ time: entry.time, line });
  }
  return byPort;
}

/** The line about the connection from `localPort` that lived from `from` to `to` (ms since the epoch), if the broker wrote one. */
function closeLogged(lines: ReturnType<typeof closeLines>, connection: { localPort: number; connectedAt: number; endedAt: number }): string | undefined {
  return lines.get(connection.localPort)?.find((entry) => entry.time >= connection.connectedAt - 1 && entry.time <= connection.endedAt + 1)?.line;
}

type Outcome = 'answered' | 'closed' | 'quiet';

/** Sends one fuzzed frame and a probe behind it; what became of it: the probe answered, the connection closed, or neither in time. */
async function drive(wire: KafkaWire, frame: Fuzzed, probeId: number): Promise<Outcome> {
  wire.send(frame.bytes);
  wire.send(requestFrame(kafkaApis.apiVersions.request, 0, probeId, {}, 'probe'));
  const deadline = Date.now() + (frame.kind in mustClose ? 10_000 : quietMs);
  for (let seen = 0; Date.now() < deadline;) {
    for (; seen < wire.frames.length; seen += 1) if (wire.frames[seen]!.readInt32BE(0) === probeId) return 'answered';
    if (wire.closed) return 'closed';
    await wire.frame(seen + 1, deadline - Date.now());
  }
  return wire.closed ? 'closed' : 'quiet';
}

describe('fuzzing the Kafka listener', () => {
  let broker: BrokerProcess;
  afterAll(cleanupBrokers);

  it(`survives ${framesTotal} fuzzed frames while a KafkaJS producer and group consumer keep working (seed ${seed})`, async () => {
    broker = await startBroker({ args: ['--max-frame-bytes', String(maxFrameBytes), '--group-initial-rebalance-delay-ms', '100'] });
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

    const random = seededRandom(seed);
    const seeds = seedFrames();
    const frames = Array.from({ length: framesTotal }, () => fuzzed(random, seeds));
    const outcomes: Array<{ kind: Kind; outcome: Outcome; localPort: number; connectedAt: number; endedAt: number }> = [];
    const deadline = Date.now() + 150_000;
    await Promise.all(Array.from({ length: connections }, async (_, connection) => {
      let wire = await KafkaWire.connect(broker.kafkaPort);
      // Read while open: a destroyed socket no longer knows its port.
      let localPort = wire.socket.localPort!;
      let connectedAt = Date.now();
      for (let index = connection; index < framesTotal && Date.now() < deadline; index += connections) {
        const frame = frames[index]!;
        const outcome = await drive(wire, frame, -1 - index);
        outcomes.push({ kind: frame.kind, outcome, localPort, connectedAt, endedAt: Date.now() });
        // Kafka closes a connection on a request it cannot read; a stream left mid-frame is given up: start afresh.
        if (outcome !== 'answered') {
          wire.close();
          connectedAt = Date.now();
          wire = await KafkaWire.connect(broker.kafkaPort);
          localPort = wire.socket.localPort!;
        }
      }
      wire.close();
    }));
    const tally = new Map<string, number>();
    for (const entry of outcomes) tally.set(`${entry.kind} ${entry.outcome}`, (tally.get(`${entry.kind} ${entry.outcome}`) ?? 0) + 1);
    console.log(`fuzzed frames by kind and outcome: ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    expect(outcomes.length, 'frames driven before the deadline').toBe(framesTotal);
    expect(broker.child.exitCode).toBeNull();

    const count = (kind: Kind | undefined, outcome: Outcome) => outcomes.filter((entry) => (kind === undefined || entry.kind === kind) && entry.outcome === outcome).length;
    // Some garbage is answered (an error code, or it happened to parse), most closes its connection.
    expect(count(undefined, 'answered')).toBeGreaterThan(0);
    expect(count(undefined, 'closed')).toBeGreaterThan(framesTotal / 2);
    for (const kind of Object.keys(mustClose) as Array<keyof typeof mustClose>) {
      expect(count(kind, 'closed'), kind).toBeGreaterThan(0);
      expect(outcomes.filter((entry) => entry.kind === kind && entry.outcome !== 'closed'), `${kind} frames not refused with a close`).toEqual([]);
    }

    // Every connection the broker closed has its log line, with the reason.
    const closed = outcomes.filter((entry) => entry.outcome === 'closed');
    const unlogged = () => {
      const lines = closeLines(broker.logs);
      return closed.filter((entry) => closeLogged(lines, entry) === undefined);
    };
    await waitFor('a log line for each connection the broker closed', () => unlogged().length === 0, 10_000)
      .catch(() => { throw new Error(`no close logged for ${unlogged().map((entry) => `port ${entry.localPort} (${entry.kind})`).slice(0, 20).join(', ')}`); });
    const lines = closeLines(broker.logs);
    for (const entry of closed) {
      const reason = mustClose[entry.kind as keyof typeof mustClose];
      if (reason !== undefined) expect(closeLogged(lines, entry), entry.kind).toContain(reason);
    }
    expect(closed.some((entry) => entry.kind === 'garbage-body' && closeLogged(lines, entry)!.includes('malformed'))).toBe(true);
    // No request, however broken, made the broker fail in a way it did not expect (error level: a bug, not bad input).
    expect(broker.logs.filter((line) => line.includes('"level":50'))).toEqual([]);

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
