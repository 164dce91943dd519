/**
 * Idempotent produce against a real broker process: a batch replayed byte for byte (same
 * producer id, epoch and sequence) over the native protocol and over the Kafka listener gets
 * its original offset back and is stored once; a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER
 * and an older epoch INVALID_PRODUCER_EPOCH; the state survives a clean restart and a SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { errorCodes } from '../../proto/errors.js';
import { produceRequest, produceResponse } from '../../proto/kafka/messages/produce.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { decodeResponse, KafkaWire, requestFrame } from '../helpers/kafka-wire.js';
import { RawClient } from '../helpers/raw-client.js';

const wire = (code: keyof typeof errorCodes) => errorCodes[code].wire;
let broker: BrokerProcess;
let correlationId = 0;

interface PartitionResult { errorCode: number; errorMessage: string; baseOffset: number }

function idempotentBatch(producerId: number, producerEpoch: number, baseSequence: number, records = 4): Buffer {
  return buildRecordBatch(
    Array.from({ length: records }, (_, index) => ({ key: null, value: Buffer.from(`${producerId}/${producerEpoch}/${baseSequence + index}`) })),
    { producerId, producerEpoch, baseSequence },
  );
}

async function nativeProduce(port: number, topic: string, records: Buffer, acks = 1): Promise<PartitionResult> {
  const raw = await RawClient.connect(port);
  try {
    correlationId += 1;
    // A copy: the bytes on the wire must be the same each time, whatever the caller does with them.
    raw.send(encodeRequest({
      api: Api.PRODUCE, version: 1, correlationId, clientId: 'idempotent-produce',
      produce: { acks, timeoutMs: 5000, topics: [{ name: topic, partitions: [{ partition: 0, records: Buffer.from(records) }] }] },
    }));
    const response = await raw.response(1, 10_000);
    return (response!.produce as { topics: Array<{ partitions: PartitionResult[] }> }).topics[0]!.partitions[0]!;
  } finally {
    raw.close();
  }
}

async function logEnd(bootstrap: string, topic: string): Promise<number> {
  const sluice = new Sluice({ bootstrap });
  try {
    const consumer = sluice.consumer();
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const end = await consumer.seek(topic, 0, 'latest');
    await consumer.close();
    return end;
  } finally {
    await sluice.close();
  }
}

beforeAll(async () => {
  broker = await startBroker();
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  for (const topic of ['native', 'kafka', 'restart']) await sluice.admin().createTopic(topic, { partitions: 1 });
  await sluice.close();
});
afterAll(async () => {
  await cleanupBrokers();
});

describe('idempotent produce', () => {
  it('answers a replayed batch on the native protocol with its original offset and stores it once', async () => {
    const first = idempotentBatch(1000, 0, 0);
    expect(await nativeProduce(broker.port, 'native', first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await nativeProduce(broker.port, 'native', idempotentBatch(1000, 0, 4))).toMatchObject({ errorCode: 0, baseOffset: 4 });
    expect(await nativeProduce(broker.port, 'native', first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await nativeProduce(broker.port, 'native', first, -1)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await logEnd(broker.bootstrap, 'native')).toBe(8);
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^sluice_producer_ids\{topic="native",partition="0"\} 1$/m);
  });

  it('refuses a sequence gap and an older epoch', async () => {
    await nativeProduce(broker.port, 'native', idempotentBatch(1001, 3, 0));
    const gap = await nativeProduce(broker.port, 'native', idempotentBatch(1001, 3, 9));
    expect(gap.errorCode).toBe(wire('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER'));
    const stale = await nativeProduce(broker.port, 'native', idempotentBatch(1001, 2, 4));
    expect(stale.errorCode).toBe(wire('SLUICE_ERR_INVALID_PRODUCER_EPOCH'));
    expect(await logEnd(broker.bootstrap, 'native')).toBe(12);
  });

  it('answers a replayed batch on the Kafka listener with its original offset and stores it once', async () => {
    const kafka = await KafkaWire.connect(broker.kafkaPort);
    try {
      const records = idempotentBatch(2000, 0, 0);
      const send = (id: number, bytes: Buffer) => requestFrame(produceRequest, 9, id, {
        transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'kafka', partitionData: [{ index: 0, records: Buffer.from(bytes) }] }],
      });
      kafka.send(send(1, records));
      kafka.send(send(2, idempotentBatch(2000, 0, 4)));
      kafka.send(send(3, records));
      kafka.send(send(4, idempotentBatch(2000, 0, 20)));
      const answers = [];
      for (let count = 1; count <= 4; count += 1) answers.push(decodeResponse(produceResponse, 9, (await kafka.frame(count))!).body.responses[0]!.partitionResponses[0]!);
      expect(answers.map((answer) => [answer.errorCode, answer.baseOffset])).toEqual([[0, 0], [0, 4], [0, 0], [45, -1]]);
    } finally {
      kafka.close();
    }
    expect(await logEnd(broker.bootstrap, 'kafka')).toBe(8);
  });

  it('keeps the state across a clean restart and a SIGKILL', async () => {
    const first = idempotentBatch(3000, 0, 0);
    expect(await nativeProduce(broker.port, 'restart', first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const dataDirectory = broker.dataDirectory;
    await broker.stop('SIGTERM');
    broker = await startBroker({ dataDirectory });
    expect(await nativeProduce(broker.port, 'restart', first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const second = idempotentBatch(3000, 0, 4);
    expect(await nativeProduce(broker.port, 'restart', second)).toMatchObject({ errorCode: 0, baseOffset: 4 });
    await broker.stop('SIGKILL');
    broker = await startBroker({ dataDirectory });
    expect(await nativeProduce(broker.port, 'restart', first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await nativeProduce(broker.port, 'restart', second)).toMatchObject({ errorCode: 0, baseOffset: 4 });
    expect((await nativeProduce(broker.port, 'restart', idempotentBatch(3000, 0, 12))).errorCode).toBe(wire('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER'));
    expect(await logEnd(broker.bootstrap, 'restart')).toBe(8);
  });

  it('forgets an idle producer after --producer-id-expiration-ms', async () => {
    const short = await startBroker({ args: ['--producer-id-expiration-ms', '2000', '--retention-check-interval-ms', '100'] });
    const sluice = new Sluice({ bootstrap: short.bootstrap });
    await sluice.admin().createTopic('expiring', { partitions: 1 });
    await sluice.close();
    const first = idempotentBatch(4000, 0, 0);
    const answer = await nativeProduce(short.port, 'expiring', first);
    expect(answer, answer.errorMessage).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await nativeProduce(short.port, 'expiring', first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    await waitFor('the producer state to expire', async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${short.httpPort}/metrics`)).text();
      return /^sluice_producer_ids\{topic="expiring",partition="0"\} 0$/m.test(metrics);
    });
    // Nothing is known of it any more: the same batch is a new one (Kafka does the same).
    expect(await nativeProduce(short.port, 'expiring', first)).toMatchObject({ errorCode: 0, baseOffset: 4 });
  });
});
