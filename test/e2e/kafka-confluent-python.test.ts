/**
 * Python's confluent-kafka (Debian's python3-confluent-kafka: librdkafka 2.0.2) against the
 * Kafka listener of a real broker process: a Producer with delivery callbacks (acks=all) sends
 * 10,000 keyed records, and a group Consumer with manual commits reads each back once and
 * commits them all.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';

/** Debian's interpreter, where the package installs the module (a pyenv `python3` may come first on PATH). */
const python = '/usr/bin/python3';
const recordCount = 10_000;

const script = `
import json, sys, time
from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
delivered, errors = [], []

def report(error, message):
    if error is not None:
        errors.append(str(error))
    else:
        delivered.append((message.partition(), message.offset()))

producer = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5, 'partitioner': 'murmur2_random'})
for index in range(count):
    producer.produce(topic, key='key-%d' % (index % 100), value='value-%d' % index, callback=report)
    if index % 500 == 0:
        producer.poll(0)
left = producer.flush(30)

consumer = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'python-readers', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
consumer.subscribe([topic])
values, deadline = [], time.time() + 60
while len(values) < count and time.time() < deadline:
    messages = consumer.consume(500, 1.0)
    for message in messages:
        if message.error():
            errors.append(str(message.error()))
        else:
            values.append(message.value().decode())
    if messages:
        consumer.commit(asynchronous=False)
committed = consumer.committed([TopicPartition(topic, partition) for partition in range(3)], timeout=10)
consumer.close()
print(json.dumps({'unflushed': left, 'delivered': len(delivered), 'errors': errors, 'values': values, 'committed': [entry.offset for entry in committed]}))
`;

function runPython(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('python confluent-kafka against the Kafka listener', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '200'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('python', { partitions: 3 });
    await sluice.close();
  });
  afterAll(cleanupBrokers);

  it(`round-trips ${recordCount} records: delivery callbacks, then a group consumer with manual commits`, async () => {
    const result = await runPython([broker.kafkaBootstrap, 'python', String(recordCount)]);
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { unflushed: number; delivered: number; errors: string[]; values: string[]; committed: number[] };
    expect(outcome.errors).toEqual([]);
    expect(outcome.unflushed).toBe(0);
    expect(outcome.delivered).toBe(recordCount);
    expect(outcome.values).toHaveLength(recordCount);
    expect(new Set(outcome.values).size).toBe(recordCount);
    expect(outcome.committed.reduce((sum, offset) => sum + offset, 0)).toBe(recordCount);
  }, 180_000);
});
