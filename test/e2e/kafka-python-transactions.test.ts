/**
 * python confluent-kafka (librdkafka 2.0.2, Debian's python3-confluent-kafka) transactions
 * against the Kafka listener: init_transactions, a committed, an aborted and a committed
 * transaction over two partitions; a read_committed consumer reads only the committed records,
 * a read_uncommitted one all of them. Then a consume-transform-produce loop reading those
 * committed records (send_offsets_to_transaction: AddOffsetsToTxn and TxnOffsetCommit with the
 * group's generation and member id): the output holds each input once and the group's committed
 * offsets are the input's ends (past the markers). The python side is a fixture script that
 * prints JSON.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fixtures/kafka-python-transactions.py', import.meta.url));

interface PythonResult { committed?: string[]; uncommitted?: string[]; copied?: string[]; offsets?: Array<[number, number]>; error?: string; stderr: string }

function run(args: string[]): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ ...JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'), stderr });
      } catch {
        reject(new Error(`no JSON from the python client: ${stdout} ${stderr}`));
      }
    });
  });
}

describe('python confluent-kafka transactions', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
    const admin = kafkajs(broker.kafkaBootstrap).kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'python-tx', numPartitions: 2 }, { topic: 'python-copy', numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
  });
  afterAll(cleanupBrokers);

  it('commits and aborts; read_committed reads only the committed records', async () => {
    const result = await run([broker.kafkaBootstrap, 'python-tx']);
    expect(result.error, result.stderr).toBeUndefined();
    const committed = Array.from({ length: 10 }, (_, index) => `committed-${index}`);
    const aborted = Array.from({ length: 5 }, (_, index) => `aborted-${index}`);
    expect(result.committed).toEqual([...committed].sort());
    expect(result.uncommitted).toEqual([...committed, ...aborted].sort());
  }, 120_000);

  it('copies the committed records exactly once with send_offsets_to_transaction', async () => {
    const result = await run(['copy', broker.kafkaBootstrap, 'python-tx', 'python-copy']);
    expect(result.error, result.stderr).toBeUndefined();
    expect(result.copied).toEqual(Array.from({ length: 10 }, (_, index) => `COMMITTED-${index}`).sort());
    // The committed offset of each partition is its log end: librdkafka's position moves past the last marker.
    const ends = await (async () => {
      const admin = kafkajs(broker.kafkaBootstrap).kafka.admin();
      await admin.connect();
      try {
        return (await admin.fetchTopicOffsets('python-tx')).map((entry) => [entry.partition, Number(entry.high)]).sort();
      } finally {
        await admin.disconnect();
      }
    })();
    expect(result.offsets).toEqual(ends);
  }, 120_000);
});
