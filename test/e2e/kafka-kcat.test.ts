/**
 * kcat (librdkafka) against the Kafka listener of a real broker process: metadata, a keyed
 * produce of 10,000 lines over 3 partitions read back with key, partition and offset (each line
 * once, in order per partition, each key where Sluice's own partitioner puts it), lines
 * compressed with each codec round-tripping byte for byte (and stored compressed), an idempotent
 * kcat's lines stored once each, and the start offsets kcat offers (an offset, the last N, a
 * timestamp).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTRIBUTE_CODEC_MASK, ATTRIBUTES_OFFSET } from '../../proto/record-batch/layout.js';
import { keyPartition } from '../../client/partitioner.js';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { expectKcatOk, kcat } from '../helpers/kafka-clients.js';

const lineCount = 10_000;
/** librdkafka's Java-compatible partitioner, so keys land where Kafka's (and Sluice's) clients put them. */
const javaPartitioner = ['-X', 'partitioner=murmur2_random'];

interface Consumed {
  key: string;
  value: string;
  partition: number;
  offset: number;
}

/** `kcat -C -e` output in the format `%k\t%s\t%p\t%o\n`. */
function parseConsumed(stdout: string): Consumed[] {
  return stdout.split('\n').filter((line) => line !== '').map((line) => {
    const [key, value, partition, offset] = line.split('\t');
    return { key: key!, value: value!, partition: Number(partition), offset: Number(offset) };
  });
}

/** RecordBatch v2 attribute codec ids. */
const codecIds: Record<string, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

const consumeArgs = (topic: string, ...more: string[]) => ['-C', '-t', topic, '-e', '-q', '-f', '%k\\t%s\\t%p\\t%o\\n', ...more];

describe('kcat against the Kafka listener', () => {
  let broker: BrokerProcess;
  let sluice: Sluice;

  beforeAll(async () => {
    broker = await startBroker();
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('lines', { partitions: 3 });
  });
  afterAll(async () => {
    await sluice?.close();
    await cleanupBrokers();
  });

  it('kcat -L lists the broker at its Kafka address, and the topic with its partitions', async () => {
    const metadata = JSON.parse(expectKcatOk(await kcat(broker.kafkaBootstrap, ['-L', '-J']), '-L')) as {
      brokers: Array<{ id: number; name: string }>;
      topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
    };
    expect(metadata.brokers).toEqual([{ id: 0, name: broker.kafkaBootstrap }]);
    const topic = metadata.topics.find((candidate) => candidate.topic === 'lines');
    expect(topic?.partitions.map((partition) => [partition.partition, partition.leader, partition.replicas.map((r) => r.id), partition.isrs.map((r) => r.id)]))
      .toEqual([[0, 0, [0], [0]], [1, 0, [0], [0]], [2, 0, [0], [0]]]);
  });

  it(`produces ${lineCount} keyed lines with kcat -P and reads each back once, in order, where Sluice puts its key`, async () => {
    const input = Array.from({ length: lineCount }, (_, index) => `key-${index % 997}\tline-${index}`).join('\n');
    expectKcatOk(await kcat(broker.kafkaBootstrap, ['-P', '-t', 'lines', '-K', '\t', ...javaPartitioner], `${input}\n`), '-P');

    const consumed = parseConsumed(expectKcatOk(await kcat(broker.kafkaBootstrap, consumeArgs('lines', '-o', 'beginning')), '-C'));
    expect(consumed).toHaveLength(lineCount);
    const seen = new Set<number>();
    const lastIndex = new Map<number, number>();
    for (const record of consumed) {
      const index = Number(record.value.slice('line-'.length));
      expect(seen.has(index), `line ${index} twice`).toBe(false);
      seen.add(index);
      expect(record.key).toBe(`key-${index % 997}`);
      expect(record.partition).toBe(keyPartition(Buffer.from(record.key), 3));
      // kcat -P sends lines in order: within a partition they keep it, at consecutive offsets.
      expect(index).toBeGreaterThan(lastIndex.get(record.partition) ?? -1);
      lastIndex.set(record.partition, index);
    }
    for (const partition of [0, 1, 2]) {
      const offsets = consumed.filter((record) => record.partition === partition).map((record) => record.offset);
      expect(offsets).toEqual(offsets.map((_, position) => position));
    }
  }, 120_000);

  it('stores each line once from an idempotent kcat (enable.idempotence=true), whose sequences the broker checks', async () => {
    await sluice.admin().createTopic('idempotent-lines', { partitions: 3 });
    const lines = Array.from({ length: 5000 }, (_, index) => `idempotent ${index}`);
    // Keyed, so every partition is written: librdkafka's sticky partitioner may put a fast run of
    // keyless lines all in one partition.
    const input = lines.map((line, index) => `k${index}\t${line}`).join('\n');
    expectKcatOk(await kcat(broker.kafkaBootstrap, ['-P', '-t', 'idempotent-lines', '-K', '\t', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5'], `${input}\n`), '-P idempotent');
    const consumed = expectKcatOk(await kcat(broker.kafkaBootstrap, ['-C', '-t', 'idempotent-lines', '-e', '-q', '-o', 'beginning', '-f', '%s\n']), '-C');
    expect(consumed.trim().split('\n').sort()).toEqual([...lines].sort());
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    // One producer id, known to each partition it wrote to.
    expect(metrics.match(/^sluice_producer_ids\{topic="idempotent-lines",partition="\d"\} 1$/gm)).toHaveLength(3);
  }, 60_000);

  it.each(['gzip', 'snappy', 'lz4', 'zstd'])('round-trips lines compressed with kcat -z %s, byte for byte', async (codec) => {
    const topic = `compressed-${codec}`;
    await sluice.admin().createTopic(topic, { partitions: 1 });
    const lines = Array.from({ length: 2000 }, (_, index) => `${codec} line ${index} ${'x'.repeat(index % 300)}`);
    expectKcatOk(await kcat(broker.kafkaBootstrap, ['-P', '-t', topic, '-z', codec, '-X', 'linger.ms=50'], `${lines.join('\n')}\n`), `-P -z ${codec}`);
    const consumed = expectKcatOk(await kcat(broker.kafkaBootstrap, ['-C', '-t', topic, '-e', '-q', '-o', 'beginning', '-f', '%s\n']), '-C');
    expect(consumed).toBe(`${lines.join('\n')}\n`);
    // Stored as kcat sent it: the first batch in the log carries the codec's id.
    const segment = fs.readFileSync(path.join(broker.dataDirectory, `${topic}-0`, '00000000000000000000.log'));
    expect(segment.readInt16BE(ATTRIBUTES_OFFSET) & ATTRIBUTE_CODEC_MASK).toBe(codecIds[codec]);
  }, 60_000);

  it('starts at an offset, at the last N of each partition, and at a timestamp', async () => {
    await sluice.admin().createTopic('starts', { partitions: 2 });
    const early = Array.from({ length: 100 }, (_, index) => `k${index}\tearly-${index}`).join('\n');
    expectKcatOk(await kcat(broker.kafkaBootstrap, ['-P', '-t', 'starts', '-K', '\t', ...javaPartitioner], `${early}\n`), '-P early');
    const all = parseConsumed(expectKcatOk(await kcat(broker.kafkaBootstrap, consumeArgs('starts', '-o', 'beginning')), '-C all'));
    expect(all).toHaveLength(100);

    const fromOffset = parseConsumed(expectKcatOk(await kcat(broker.kafkaBootstrap, consumeArgs('starts', '-p', '0', '-o', '7')), '-o 7'));
    const partition0 = all.filter((record) => record.partition === 0);
    expect(fromOffset).toEqual(partition0.slice(7));

    const lastTen = parseConsumed(expectKcatOk(await kcat(broker.kafkaBootstrap, consumeArgs('starts', '-o', '-10')), '-o -10'));
    for (const partition of [0, 1]) {
      expect(lastTen.filter((record) => record.partition === partition)).toEqual(all.filter((record) => record.partition === partition).slice(-10));
    }

    // Everything produced after `boundary` (and nothing before) is found by timestamp.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const boundary = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const late = Array.from({ length: 30 }, (_, index) => `k${index}\tlate-${index}`).join('\n');
    expectKcatOk(await kcat(broker.kafkaBootstrap, ['-P', '-t', 'starts', '-K', '\t', ...javaPartitioner], `${late}\n`), '-P late');
    const fromTime = parseConsumed(expectKcatOk(await kcat(broker.kafkaBootstrap, consumeArgs('starts', '-o', `s@${boundary}`)), '-o s@'));
    expect(fromTime.map((record) => record.value).sort()).toEqual(Array.from({ length: 30 }, (_, index) => `late-${index}`).sort());
  }, 120_000);
});
