/**
 * Broker behaviour beyond produce and fetch: the admin HTTP API and metrics, topics that
 * survive restarts, acks=0, auto-creation only when asked for, the idle timeout, the
 * per-connection in-flight limit (reads pause at it), and producer backpressure.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Api } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { brokerMemory } from '../../bench/broker-process.js';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupBrokers);

describe('broker features', () => {
  it('serves health, metrics and topics over HTTP, and keeps topics across a restart', async () => {
    let broker = await startBroker();
    let sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('http', { partitions: 2, configs: { 'segment.bytes': '1048576' } });
    await sluice.producer().send({ topic: 'http', messages: Array.from({ length: 10 }, (_, index) => ({ value: `v${index}`, partition: index % 2 })) });
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign([{ topic: 'http', partition: 0 }]);
    await waitFor('five records', async () => (await consumer.poll({ timeoutMs: 200 })).length > 0);
    const base = `http://127.0.0.1:${broker.httpPort}`;
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/sluice_records_in_total\{topic="http"\} 10/);
    expect(metrics).toMatch(/sluice_bytes_out_total\{topic="http"\} \d+/);
    expect(metrics).toMatch(/sluice_log_end_offset\{topic="http",partition="1"\} 5/);
    expect(metrics).toMatch(/sluice_request_duration_seconds_count\{api="Produce"\} \d+/);
    expect(metrics).toMatch(/sluice_connections \d+/);
    expect(metrics).toMatch(/sluice_process_resident_memory_bytes \d+/);
    expect(metrics).not.toMatch(/sluice_process_process_/);
    const topics = await (await fetch(`${base}/v1/topics`)).json() as { topics: Array<{ name: string }> };
    expect(topics.topics.map((topic) => topic.name)).toEqual(['http']);
    const topic = await (await fetch(`${base}/v1/topics/http`)).json() as { partitions: Array<{ logEndOffset: number; sizeOnDiskBytes: number }>; configs: Record<string, string> };
    expect(topic.partitions.map((partition) => partition.logEndOffset)).toEqual([5, 5]);
    expect(topic.partitions[0]!.sizeOnDiskBytes).toBeGreaterThan(0);
    expect(topic.configs).toEqual({ 'segment.bytes': '1048576' });
    expect((await fetch(`${base}/v1/topics/nope`)).status).toBe(404);
    await sluice.close();

    expect((await broker.stop()).code).toBe(0);
    broker = await startBroker({ dataDirectory: broker.dataDirectory });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    const description = await sluice.admin().describeTopic('http');
    expect(description.partitions.map((partition) => partition.logEndOffset)).toEqual([5, 5]);
    await sluice.close();
  });

  it('creates topics on first use only with --auto-create-topics', async () => {
    const off = await startBroker();
    const strict = new Sluice({ bootstrap: off.bootstrap });
    await expect(strict.producer().send({ topic: 'auto', messages: [{ value: 'x' }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION' });
    await strict.close();
    const on = await startBroker({ args: ['--auto-create-topics', '--default-partitions', '3'] });
    const loose = new Sluice({ bootstrap: on.bootstrap });
    const [sent] = await loose.producer().send({ topic: 'auto', messages: [{ value: 'x' }] });
    expect(sent!.offset).toBe(0);
    expect((await loose.admin().describeTopic('auto')).partitions).toHaveLength(3);
    await loose.close();
  });

  it('accepts acks=0 without a response, and the records still land', async () => {
    const broker = await startBroker();
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('fire', { partitions: 1 });
    const sent = await sluice.producer({ acks: 0 }).send({ topic: 'fire', messages: Array.from({ length: 100 }, () => ({ value: 'x' })) });
    expect(sent.every((record) => record.offset === -1)).toBe(true);
    await waitFor('100 records', async () => (await sluice.admin().describeTopic('fire')).partitions[0]!.logEndOffset === 100);
    await sluice.close();
  });

  it('closes idle connections, and past the in-flight limit reads no more requests until earlier ones are answered', async () => {
    const broker = await startBroker({ args: ['--idle-timeout-ms', '300'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('wait', { partitions: 1 });
    const idle = await RawClient.connect(broker.port);
    await waitFor('the idle connection to close', () => idle.closed, 5000);

    const busy = await RawClient.connect(broker.port);
    const longPoll = (correlationId: number) => encodeRequest({
      api: Api.FETCH, version: 1, correlationId, clientId: 'busy',
      fetch: { maxWaitMs: 2000, minBytes: 1, maxBytes: 1000, topics: [{ name: 'wait', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1000 }] }] },
    });
    for (let correlationId = 1; correlationId <= 129; correlationId += 1) busy.send(longPoll(correlationId));
    // 128 long polls park; the 129th is not refused but left unread until one of them is answered.
    await waitFor('128 long polls to park', async () => (await brokerMemory(broker.httpPort)).parkedRequests === 128);
    expect((await brokerMemory(broker.httpPort)).parkedRequests).toBe(128);
    expect(busy.responses).toEqual([]);
    await busy.response(129, 10_000);
    expect(busy.responses.map((response) => response.errorCode)).toEqual(Array.from({ length: 129 }, () => 0));
    expect(busy.responses[128]!.correlationId).toBe(129);
    busy.close();
    await sluice.close();
  });

  it('makes send() wait when the producer buffer is full (backpressure)', async () => {
    const broker = await startBroker();
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('pressure', { partitions: 1 });
    const producer = sluice.producer({ bufferMemoryBytes: 4096, lingerMs: 50, batchSize: 2048 });
    const value = Buffer.alloc(1000, 1);
    let settled = 0;
    let most = 0;
    const sends = Array.from({ length: 20 }, () => producer.send({ topic: 'pressure', messages: [{ value }] }).then(() => { settled += 1; }));
    // 20 KB go through a 4 KiB buffer: sends wait for acknowledgements instead of queueing.
    const deadline = Date.now() + 20_000;
    while (settled < 20 && Date.now() < deadline) {
      most = Math.max(most, producer.bufferedBytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sends);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(4096);
    expect((await sluice.admin().describeTopic('pressure')).partitions[0]!.logEndOffset).toBe(20);
    await sluice.close();
  });
});
