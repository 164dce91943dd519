/**
 * Committed group offsets: stored in the compacted __consumer_offsets topic, they survive a
 * broker SIGKILL; a commit from an unknown generation is refused with its code; the CLI
 * resumes a group where it stopped, shows lag, and resets offsets; the admin HTTP API and
 * /metrics show groups and their lag; the internal topic cannot be written or deleted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../proto/errors.js';
import { Api, type OffsetFetchResponse } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { Sluice } from '../../client/sluice.js';
import { runCli } from '../helpers/cli.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

// consume --group joins the group: a short initial delay keeps each run from waiting 3 s for company.
const quickGroups = ['--group-initial-rebalance-delay-ms', '200'];



afterAll(cleanupBrokers);

describe('committed group offsets', () => {
  it('survive a broker SIGKILL and resume the consumer where it committed', async () => {
    let broker = await startBroker({ args: quickGroups });
    let sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('orders', { partitions: 2 });
    await sluice.producer().send({ topic: 'orders', messages: Array.from({ length: 100 }, (_, index) => ({ value: `order-${index}`, partition: index % 2 })) });
    const consumer = sluice.consumer({ groupId: 'billing', autoOffsetReset: 'earliest', autoCommit: false, maxPollRecords: 30 });
    consumer.assign([{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);
    const first = await consumer.poll({ timeoutMs: 5000 });
    expect(first.length).toBeGreaterThan(0);
    await consumer.commit();
    const positions = new Map([0, 1].map((partition) => [partition, consumer.position('orders', partition) ?? 0]));
    await sluice.close();

    expect((await broker.stop('SIGKILL')).signal).toBe('SIGKILL');
    broker = await startBroker({ dataDirectory: broker.dataDirectory, args: quickGroups });
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    const description = await sluice.admin().describeGroup('billing');
    expect(new Map(description.partitions.map((entry) => [entry.partition, entry.committedOffset]))).toEqual(positions);
    expect(description.partitions.every((entry) => entry.lag === 50 - entry.committedOffset)).toBe(true);
    const resumed = sluice.consumer({ groupId: 'billing', autoOffsetReset: 'earliest' });
    resumed.assign([{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);
    const rest: number[] = [];
    const deadline = Date.now() + 10_000;
    while (rest.length < 100 - first.length && Date.now() < deadline) rest.push(...(await resumed.poll({ timeoutMs: 500 })).map((record) => record.offset));
    expect(rest).toHaveLength(100 - first.length);
    await resumed.close();
    expect((await sluice.admin().describeGroup('billing')).partitions.every((entry) => entry.lag === 0)).toBe(true);
    await sluice.close();
  });

  it('refuses a commit from a generation the group does not have, and protects the internal topic', async () => {
    const broker = await startBroker({ args: quickGroups });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('t', { partitions: 1 });
    const raw = await RawClient.connect(broker.port);
    raw.send(encodeRequest({
      api: Api.OFFSET_COMMIT, version: 1, correlationId: 5, clientId: 'stale',
      offsetCommit: { groupId: 'g', generationId: 3, memberId: 'member-1', topics: [{ name: 't', partitions: [{ partition: 0, offset: 1 }] }] },
    }));
    const response = await raw.response(1);
    expect(response).toMatchObject({ correlationId: 5, errorCode: errorCodes.SLUICE_ERR_ILLEGAL_GENERATION.wire });
    expect(response!.errorMessage).toMatch(/no generation 3/);
    raw.close();
    await sluice.consumer({ groupId: 'g' }).commit([{ topic: 't', partition: 0, offset: 0 }]);
    await expect(sluice.producer().send({ topic: '__consumer_offsets', messages: [{ key: 'x', value: 'y' }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC' });
    await expect(sluice.admin().deleteTopic('__consumer_offsets')).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC' });
    await sluice.close();
  });

  it('answers an OffsetFetch sent right behind an OffsetCommit, before its answer, with the offset just committed', async () => {
    const broker = await startBroker({ args: quickGroups });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('pipelined', { partitions: 1 });
    await sluice.close();
    const raw = await RawClient.connect(broker.port);
    const rounds = 20;
    raw.send(Buffer.concat(Array.from({ length: rounds }, (_, round) => [
      encodeRequest({
        api: Api.OFFSET_COMMIT, version: 1, correlationId: 2 * round, clientId: 'pipelining',
        offsetCommit: { groupId: 'pipelined', generationId: -1, memberId: '', topics: [{ name: 'pipelined', partitions: [{ partition: 0, offset: round }] }] },
      }),
      encodeRequest({ api: Api.OFFSET_FETCH, version: 1, correlationId: 2 * round + 1, clientId: 'pipelining', offsetFetch: { groupId: 'pipelined' } }),
    ]).flat()));
    await raw.response(2 * rounds);
    raw.close();
    const fetchedOffsets = new Map(raw.responses.filter((response) => response.correlationId % 2 === 1)
      .map((response) => [(response.correlationId - 1) / 2, (response.offsetFetch as OffsetFetchResponse | undefined)?.topics[0]?.partitions[0]?.offset]));
    expect(fetchedOffsets).toEqual(new Map(Array.from({ length: rounds }, (_, round) => [round, round])));
  });

  it('resumes with sluice consume --group, shows lag, resets offsets, and reports groups over HTTP', async () => {
    const broker = await startBroker({ args: quickGroups });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('events', { partitions: 1 });
    await sluice.producer().send({ topic: 'events', messages: Array.from({ length: 10 }, (_, index) => ({ value: `e${index}` })) });
    const bootstrap = ['--bootstrap', broker.bootstrap];
    const firstRun = await runCli(['consume', 'events', '--group', 'audit', '--max-messages', '4', ...bootstrap]);
    expect(firstRun.stdout.trim().split('\n')).toEqual(['e0', 'e1', 'e2', 'e3']);
    const secondRun = await runCli(['consume', 'events', '--group', 'audit', ...bootstrap]);
    expect(secondRun.stdout.trim().split('\n')).toEqual(['e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
    expect((await runCli(['groups', 'list', ...bootstrap])).stdout).toMatch(/^audit\t/m);
    await sluice.producer().send({ topic: 'events', messages: [{ value: 'e10' }, { value: 'e11' }] });
    const described = await runCli(['groups', 'describe', 'audit', ...bootstrap]);
    expect(described.stdout).toMatch(/events\s+0\s+10\s+12\s+2/);
    const reset = await runCli(['groups', 'reset-offsets', 'audit', '--topic', 'events', '--to-offset', '8', ...bootstrap]);
    expect(reset.stdout.trim()).toBe('events/0 -> 8');
    expect((await runCli(['consume', 'events', '--group', 'audit', ...bootstrap])).stdout.trim().split('\n')).toEqual(['e8', 'e9', 'e10', 'e11']);
    expect((await runCli(['groups', 'reset-offsets', 'audit', '--topic', 'events', ...bootstrap])).stderr).toMatch(/exactly one of --to-earliest/);

    const base = `http://127.0.0.1:${broker.httpPort}`;
    expect(await (await fetch(`${base}/v1/groups`)).json()).toEqual({ groups: [{ groupId: 'audit', state: 'Empty', members: 0, type: 'classic' }] });
    const group = await (await fetch(`${base}/v1/groups/audit`)).json() as { partitions: Array<{ lag: number }>; totalLag: number };
    expect(group.totalLag).toBe(0);
    expect((await fetch(`${base}/v1/groups/nobody`)).status).toBe(404);
    await sluice.producer().send({ topic: 'events', messages: [{ value: 'e12' }] });
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/sluice_group_lag\{group="audit",topic="events",partition="0"\} 1/);
    await sluice.close();
  });
});
