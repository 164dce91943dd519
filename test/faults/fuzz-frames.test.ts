/**
 * Fuzzing a live broker: 10,000+ random and mutated frames over several connections, while a
 * well-behaved client keeps producing and consuming. The broker must never exit, and the
 * good client must never see an error. The seed is in the test name; SLUICE_SEED replays one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Api } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { seededRandom } from '../helpers/random.js';
import { RawClient, rawFrame } from '../helpers/raw-client.js';

const seed = Number(process.env.SLUICE_SEED ?? 424242);
const framesTotal = 12_000;

/** Valid requests aimed at a topic of the fuzzer's own, to mutate. */
function seedFrames(): Buffer[] {
  const batch = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('fuzz value'), headers: [{ key: 'h', value: null }] }], { compression: 'lz4' });
  const requests = [
    { api: Api.API_VERSIONS, apiVersions: {} },
    { api: Api.METADATA, metadata: { topics: ['fuzz'] } },
    { api: Api.PRODUCE, produce: { acks: 1, timeoutMs: 100, topics: [{ name: 'fuzz', partitions: [{ partition: 0, records: batch }] }] } },
    { api: Api.FETCH, fetch: { maxWaitMs: 0, minBytes: 1, maxBytes: 1000, topics: [{ name: 'fuzz', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 500 }] }] } },
    { api: Api.LIST_OFFSETS, listOffsets: { topics: [{ name: 'fuzz', partitions: [{ partition: 0, timestamp: 5 }] }] } },
  ];
  return requests.map((request, index) => encodeRequest({ version: 1, correlationId: index + 1, clientId: 'fuzzer', ...request }).subarray(4));
}

function mutate(random: () => number, seeds: Buffer[]): Buffer {
  const integer = (limit: number) => Math.floor(random() * limit);
  const kind = integer(10);
  if (kind < 2) return rawFrame(Buffer.from(Array.from({ length: integer(200) }, () => integer(256))));
  const message = Buffer.from(seeds[integer(seeds.length)]!);
  if (kind < 7) {
    for (let flips = 1 + integer(4); flips > 0; flips -= 1) message[integer(message.length)] = integer(256);
    return rawFrame(message);
  }
  if (kind < 9) return rawFrame(message.subarray(0, integer(message.length)));
  // A length prefix that lies: shorter than the message (the rest reads as the next frame).
  return rawFrame(message, integer(message.length));
}

describe('fuzzing a live broker', () => {
  afterAll(cleanupBrokers);

  it(`survives ${framesTotal} random and mutated frames while a good client works (seed ${seed})`, async () => {
    const broker = await startBroker({ args: ['--max-frame-bytes', String(1024 * 1024)] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('good', { partitions: 2 });
    await sluice.admin().createTopic('fuzz', { partitions: 1 });
    const producer = sluice.producer({ lingerMs: 1 });
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50 });
    consumer.assign([{ topic: 'good', partition: 0 }, { topic: 'good', partition: 1 }]);

    let stop = false;
    let sent = 0;
    let received = 0;
    const goodClient = (async () => {
      while (!stop) {
        await producer.send({ topic: 'good', messages: Array.from({ length: 20 }, (_, index) => ({ value: `good-${sent + index}` })) });
        sent += 20;
        received += (await consumer.poll({ timeoutMs: 200 })).length;
      }
    })();

    const random = seededRandom(seed);
    const seeds = seedFrames();
    let clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(broker.port)));
    let answered = 0;
    const retire = (client: RawClient) => {
      answered += client.responses.length;
      client.close();
    };
    const deadline = Date.now() + 120_000;
    for (let frame = 0; frame < framesTotal && Date.now() < deadline; frame += 1) {
      const index = frame % clients.length;
      if (clients[index]!.closed) {
        retire(clients[index]!);
        clients[index] = await RawClient.connect(broker.port);
      }
      clients[index]!.send(mutate(random, seeds));
      // A truncated frame leaves the stream mid-frame: start a fresh connection now and then.
      if (frame % 50 === 49) {
        await clients[index]!.response(clients[index]!.responses.length + 1, 200);
        retire(clients[index]!);
        clients[index] = await RawClient.connect(broker.port);
      }
      if (frame % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const client of clients) retire(client);
    clients = [];
    // The broker really answered the garbage (with error codes), it did not just drop it.
    expect(answered).toBeGreaterThan(framesTotal / 10);
    expect(sent).toBeGreaterThan(0);

    stop = true;
    await goodClient;
    const deadlineReceive = Date.now() + 20_000;
    while (received < sent && Date.now() < deadlineReceive) received += (await consumer.poll({ timeoutMs: 200 })).length;
    expect(received).toBe(sent);
    expect(broker.child.exitCode).toBeNull();
    await sluice.close();
    expect((await broker.stop()).code).toBe(0);
  }, 240_000);
});
