/**
 * The connection limits of issue 9.7 at small settings, on real sockets: max.connections
 * refuses the connection past it and keeps serving the others; a frame that does not fit in the
 * request memory waits (its connection stops reading) while small requests still get through,
 * until a slow sender that holds the memory is closed for taking too long; and fetch.max.bytes
 * caps a fetch response whatever the client asks.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { brokerMemory } from '../../bench/broker-process.js';
import { Sluice } from '../../client/sluice.js';
import { errorCodes } from '../../proto/errors.js';
import { Api, type FetchResponse } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

const clients: RawClient[] = [];

async function connect(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  clients.push(client);
  return client;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(cleanupBrokers);

let correlationId = 0;
const apiVersions = () => encodeRequest({ api: Api.API_VERSIONS, version: 1, correlationId: ++correlationId, clientId: 'limits', apiVersions: {} });

async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

describe('connection limits', () => {
  it('closes a connection past max.connections, logs and counts it, and keeps serving the others', async () => {
    const broker = await startBroker({ args: ['--max-connections', '4'] });
    const open = await Promise.all([0, 1, 2, 3].map(() => connect(broker.port)));
    for (const client of open) {
      client.send(apiVersions());
      expect((await client.response())?.errorCode).toBe(0);
    }
    const refused = await connect(broker.port);
    await waitFor('the fifth connection to be closed', () => refused.closed, 5000);
    expect(refused.responses).toEqual([]);
    expect(await metric(broker.httpPort, 'sluice_connections_refused_total')).toBe(1);
    expect(broker.logs.some((line) => line.includes('max.connections reached'))).toBe(true);
    for (const client of open) {
      client.send(apiVersions());
      expect((await client.response())?.errorCode).toBe(0);
    }
    // A place freed is a place a new client can take.
    open[0]!.close();
    await waitFor('a new connection to be served', async () => {
      const next = await connect(broker.port);
      next.send(apiVersions());
      return (await next.response(1, 1000))?.errorCode === 0;
    }, 5000);
  });

  it('makes a frame wait for request memory, lets small requests through, and closes a slow sender holding the memory', async () => {
    const memoryBytes = 1024 * 1024;
    const broker = await startBroker({
      args: ['--queued-max-request-bytes', String(memoryBytes), '--connection-allowance-bytes', '4096', '--frame-receive-timeout-ms', '2000'],
    });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('big', { partitions: 1, configs: { 'max.message.bytes': String(2 * 1024 * 1024) } });

    // A slow sender takes all the request memory with 90% of a frame the size of the pool.
    const slow = await connect(broker.port);
    const partial = Buffer.alloc(4 + memoryBytes * 0.9, 1);
    partial.writeUInt32BE(memoryBytes, 0);
    slow.send(partial);
    await waitFor('the slow frame to hold the request memory', async () => (await brokerMemory(broker.httpPort)).requestMemory.usedBytes === memoryBytes, 1500);

    // A whole 600 KB produce must wait: its connection stops reading.
    const big = await connect(broker.port);
    big.send(encodeRequest({
      api: Api.PRODUCE, version: 1, correlationId: 1, clientId: 'big',
      produce: { acks: 1, timeoutMs: 5000, topics: [{ name: 'big', partitions: [{ partition: 0, records: buildRecordBatch([{ key: null, value: Buffer.alloc(600_000, 2) }]) }] }] },
    }));
    await waitFor('the big produce to wait for memory', async () => (await brokerMemory(broker.httpPort)).requestMemory.waitingConnections === 1, 1500);
    expect(big.responses).toEqual([]);

    // Small requests still get through, from the connection's own allowance.
    const small = await connect(broker.port);
    small.send(apiVersions());
    expect((await small.response(1, 1000))?.errorCode).toBe(0);
    expect(slow.closed).toBe(false);

    // The slow sender is closed after frameReceiveTimeoutMs, which frees the memory for the produce.
    const answer = await slow.response(1, 5000);
    expect(answer).toMatchObject({ errorCode: errorCodes.SLUICE_ERR_REQUEST_TIMED_OUT.wire, errorMessage: expect.stringMatching(/did not arrive whole within 2000 ms/) });
    await waitFor('the slow connection to close', () => slow.closed, 5000);
    const produced = await big.response(1, 5000);
    expect(produced?.errorCode).toBe(0);
    expect((produced!.produce as { topics: Array<{ partitions: Array<{ errorCode: number; baseOffset: number }> }> }).topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await metric(broker.httpPort, 'sluice_slow_frame_connections_closed_total')).toBe(1);
    await waitFor('the request memory to be free', async () => (await brokerMemory(broker.httpPort)).requestMemory.usedBytes === 0, 2000);
    await sluice.close();
  });

  it('caps a fetch response at fetch.max.bytes whatever the client asks, yet always sends a first whole batch', async () => {
    const broker = await startBroker({ args: ['--fetch-max-bytes', '100000'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('wide', { partitions: 1, configs: { 'max.message.bytes': '1000000' } });
    const producer = sluice.producer({ lingerMs: 0 });
    for (let index = 0; index < 10; index += 1) await producer.send({ topic: 'wide', messages: [{ value: Buffer.alloc(30_000, index) }] });
    await producer.send({ topic: 'wide', messages: [{ value: Buffer.alloc(150_000, 10) }] });

    const raw = await connect(broker.port);
    const fetchFrom = async (fetchOffset: number) => {
      raw.send(encodeRequest({
        api: Api.FETCH, version: 1, correlationId: ++correlationId, clientId: 'wide',
        fetch: { maxWaitMs: 0, minBytes: 1, maxBytes: 100 * 1024 * 1024, topics: [{ name: 'wide', partitions: [{ partition: 0, fetchOffset, maxBytes: 100 * 1024 * 1024 }] }] },
      }));
      const response = await raw.response();
      return (response!.fetch as FetchResponse).topics[0]!.partitions[0]!;
    };
    const capped = await fetchFrom(0);
    expect(capped.errorCode).toBe(0);
    expect(capped.records.length).toBeGreaterThan(30_000);
    expect(capped.records.length).toBeLessThanOrEqual(100_000);
    const oversized = await fetchFrom(10);
    expect(oversized.records.length).toBeGreaterThan(150_000);

    // A consumer asking for 50 MiB per fetch still gets everything, 100 KB at a time.
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 50 });
    consumer.assign([{ topic: 'wide', partition: 0 }]);
    let received = 0;
    await waitFor('all 11 records', async () => (received += (await consumer.poll({ timeoutMs: 200 })).length) >= 11, 10_000);
    expect(received).toBe(11);
    await sluice.close();
  });
});
