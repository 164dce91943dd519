/**
 * python confluent-kafka (librdkafka through Debian's python3-confluent-kafka, unmodified)
 * against the Kafka listener of a real broker process: a Producer whose delivery callbacks report
 * 10,000 keyed records, and a group Consumer with auto commit off that reads them all, commits by
 * hand, and leaves the group where a second run of it resumes. The python side is a fixture
 * script (fixtures/kafka-python-client.py) that prints JSON; the assertions are here.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPartition } from '../../client/partitioner.js';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';

/** Debian's python: the one python3-confluent-kafka is installed for (not a pyenv python3 first on PATH). */
const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fixtures/kafka-python-client.py', import.meta.url));
const recordCount = 10_000;
const partitions = 3;

/** [key, value, partition, offset] as the fixture prints them. */
type Row = [string, string, number, number];

interface Produced {
  delivered: Row[];
  errors: string[];
  undelivered: number;
}

interface Consumed {
  records: Row[];
  errors: string[];
  commits: number;
  committed: Array<[number, number]>;
  watermarks: Record<string, [number, number]>;
}

/** Runs the fixture with `args`, killed after `timeoutMs`; its stdout parsed as JSON, or a failure with its stderr. */
function runFixture<T>(args: string[], timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${script} ${args[0]} exited ${code ?? signal}: ${Buffer.concat(stderr).toString()}`));
      else resolve(JSON.parse(Buffer.concat(stdout).toString()) as T);
    });
  });
}

const valueIndex = (value: string) => Number(value.slice('value-'.length));

describe('python confluent-kafka against the Kafka listener', () => {
  let broker: BrokerProcess;
  let sluice: Sluice;
  let produced: Produced;

  beforeAll(async () => {
    broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('python', { partitions });
  });
  afterAll(async () => {
    await sluice?.close();
    await cleanupBrokers();
  });

  it(`a Producer's delivery callbacks report all ${recordCount} records, each where Sluice puts its key, at consecutive offsets`, async () => {
    produced = await runFixture<Produced>(['produce', broker.kafkaBootstrap, 'python', '0', String(recordCount)], 90_000);
    expect(produced.errors).toEqual([]);
    expect(produced.undelivered).toBe(0);
    expect(produced.delivered).toHaveLength(recordCount);
    expect(new Set(produced.delivered.map(([, value]) => value)).size).toBe(recordCount);
    for (const [key, value, partition] of produced.delivered) {
      expect(key).toBe(`key-${valueIndex(value) % 997}`);
      expect(partition).toBe(keyPartition(Buffer.from(key), partitions));
    }
    // The producer keeps order per partition: its records hold offsets 0..n-1 in the order they were produced.
    for (let partition = 0; partition < partitions; partition += 1) {
      const rows = produced.delivered.filter((row) => row[2] === partition).sort((a, b) => valueIndex(a[1]) - valueIndex(b[1]));
      expect(rows.map((row) => row[3])).toEqual(rows.map((_, position) => position));
    }
  }, 120_000);

  it(`a group Consumer with manual commits reads each record once, at the offset its delivery reported, and commits the log ends`, async () => {
    const consumed = await runFixture<Consumed>(['consume', broker.kafkaBootstrap, 'python', 'python-group', String(recordCount), '90'], 120_000);
    expect(consumed.errors).toEqual([]);
    expect(consumed.records).toHaveLength(recordCount);
    const reported = new Map(produced.delivered.map(([key, value, partition, offset]) => [value, [key, partition, offset]]));
    for (const [key, value, partition, offset] of consumed.records) expect([key, partition, offset]).toEqual(reported.get(value));
    expect(new Set(consumed.records.map(([, value]) => value)).size).toBe(recordCount);
    // In order within each partition.
    for (let partition = 0; partition < partitions; partition += 1) {
      const offsets = consumed.records.filter((row) => row[2] === partition).map((row) => row[3]);
      expect(offsets).toEqual(offsets.map((_, position) => position));
    }
    expect(consumed.commits).toBeGreaterThanOrEqual(recordCount / 1000);
    const ends = Object.entries(consumed.watermarks).map(([partition, [, high]]) => [Number(partition), high]).sort((a, b) => a[0]! - b[0]!);
    expect(ends.map(([, high]) => high).reduce((sum, high) => sum! + high!, 0)).toBe(recordCount);
    expect(consumed.committed).toEqual(ends);

    // Sluice's own admin sees the commits python made through the Kafka listener.
    const description = await sluice.admin().describeGroup('python-group');
    expect(description.partitions.map((entry) => [entry.partition, entry.committedOffset, entry.lag]).sort((a, b) => a[0]! - b[0]!))
      .toEqual(ends.map(([partition, high]) => [partition, high, 0]));
  }, 150_000);

  it('a new Consumer in the same group resumes from the committed offsets: it reads only the records produced since', async () => {
    const more = await runFixture<Produced>(['produce', broker.kafkaBootstrap, 'python', String(recordCount), '100'], 60_000);
    expect(more.errors).toEqual([]);
    expect(more.delivered).toHaveLength(100);
    const consumed = await runFixture<Consumed>(['consume', broker.kafkaBootstrap, 'python', 'python-group', '100', '60'], 90_000);
    expect(consumed.errors).toEqual([]);
    expect(consumed.records.map(([, value]) => valueIndex(value)).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, index) => recordCount + index));
    expect(consumed.committed.map(([, offset]) => offset).reduce((sum, offset) => sum + offset, 0)).toBe(recordCount + 100);
  }, 120_000);
});
