/**
 * Unclean leader election on a real cluster (etcd and three brokers as processes, lease 2 s,
 * replica.lag.time.max.ms 3 s). One replica is made stale: SIGSTOPped until it has left the
 * ISR, then acks=all records it lacks are acknowledged by the other two, then both of those are
 * SIGKILLed and the stale one resumed.
 * - Off (the default): the partition goes offline (leader −1 in metadata; a produce to the stale
 *   replica answers a retriable error, and so does the client's with retries off) rather than let
 *   the stale replica lead; when an ISR member comes back it
 *   leads and every acknowledged record is there.
 * - On (`unclean.leader.election.enable=true`): the stale replica leads; a former ISR member that
 *   comes back truncates what it had beyond the new leader's log end, counts exactly those
 *   offsets in sluice_unclean_offsets_lost_total and logs it; afterwards every replica holds the
 *   same bytes.
 * Prints how long each step took.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { highWatermarkFile, readOffsetCheckpoint } from '../../broker/storage/checkpoint.js';
import { Sluice } from '../../client/sluice.js';
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, type ClusterBroker, startCluster, type TestCluster } from '../helpers/cluster.js';
import { leaders, replicaBatches, waitForFullIsr } from '../helpers/cluster-checks.js';
import { closeProbes, createTopicOnceRegistered, consumerFetch, metadataFrom, metric, partitionOn, produceTo, waitForLogLine } from '../helpers/cluster-probes.js';
import path from 'node:path';

afterAll(async () => {
  closeProbes();
  await cleanupCluster();
});

const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
const values = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

interface StaleSetup {
  cluster: TestCluster;
  leader: ClusterBroker;
  other: ClusterBroker;
  stale: ClusterBroker;
  /** Acknowledged values by offset. */
  acknowledged: string[];
  /** The stale replica's log end: it lacks every acknowledged offset from here on. */
  staleEnd: number;
  /** When the ISR members were killed. */
  killedAt: number;
  figures: string[];
}

/**
 * Three brokers, a one-partition RF 3 topic; one follower paused until it left the ISR, acks=all
 * records it lacks acknowledged, both ISR members killed, the stale one resumed.
 */
async function staleReplicaAlone(topic: string, configs: Record<string, string>): Promise<StaleSetup> {
  const figures: string[] = [];
  const cluster = await startCluster({ brokers: 3 });
  const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
  const admin = sluice.admin();
  await createTopicOnceRegistered(admin, topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2', ...configs } });
  await waitForFullIsr(admin, topic);
  const leaderId = (await leaders(admin, topic)).get(0)!;
  await sluice.close();
  const leader = cluster.broker(leaderId);
  const [stale, other] = cluster.brokers.filter((broker) => broker.nodeId !== leaderId) as [ClusterBroker, ClusterBroker];

  const acknowledged: string[] = [];
  const acked = async (batch: string[]) => {
    const answer = await produceTo(leader, topic, 0, batch, -1, 10_000);
    expect(answer.errorCode, answer.errorMessage).toBe(0);
    expect(answer.baseOffset).toBe(acknowledged.length);
    acknowledged.push(...batch);
  };
  await acked(values('everyone', 10));
  await waitFor('the stale-to-be replica to have every record', async () => (await partitionOn(stale, topic, 0)).logEndOffset === acknowledged.length);

  const pausedAt = Date.now();
  cluster.pause(stale.nodeId);
  await waitFor('the paused replica to leave the ISR', async () => !(await partitionOn(leader, topic, 0)).isr.includes(stale.nodeId), 20_000);
  figures.push(`paused replica out of the ISR after ${Date.now() - pausedAt} ms`);
  const staleEnd = acknowledged.length;
  await acked(values('without-the-stale-one', 10));
  await acked(values('still-without', 5));
  // A restarted broker's high watermark comes from its checkpoint (every 5 s): wait until both
  // ISR members have written the one covering every acknowledged record, so the offsets an
  // unclean election loses are known to the broker that loses them.
  await waitFor('the ISR members to checkpoint the high watermark', () => [leader, other].every((broker) =>
    readOffsetCheckpoint(path.join(broker.dataDirectory, `${topic}-0`), highWatermarkFile) === acknowledged.length), 15_000);

  const killedAt = Date.now();
  await Promise.all([cluster.kill(leader.nodeId), cluster.kill(other.nodeId)]);
  cluster.resume(stale.nodeId);
  return { cluster, leader, other, stale, acknowledged, staleEnd, killedAt, figures };
}

/** Reads the partition from `broker` as a consumer (up to the high watermark) until it has `count` records. */
async function readAll(broker: ClusterBroker, topic: string, count: number): Promise<string[]> {
  const read: string[] = [];
  await waitFor(`${count} records readable on broker ${broker.nodeId}`, async () => {
    const { result, records } = await consumerFetch(broker, topic, 0, read.length);
    if (result.errorCode !== 0) return false;
    for (const record of records) if (record.offset === read.length) read.push(record.value);
    return read.length >= count;
  }, 20_000);
  return read;
}

describe('every in-sync replica down, a stale one up', () => {
  it('unclean election off: the partition goes offline, nothing acknowledged is lost, and a returning ISR member leads with every record', async () => {
    const topic = 'clean';
    const { cluster, leader, other, stale, acknowledged, killedAt, figures } = await staleReplicaAlone(topic, {});

    await waitFor('the partition to go offline', async () => {
      try {
        return (await metadataFrom(stale, topic, 0)).leader === -1;
      } catch {
        return false;
      }
    }, 20_000);
    const offlineMs = Date.now() - killedAt;
    const offline = await metadataFrom(stale, topic, 0);
    expect(offline.leader).toBe(-1);
    expect(offline.isr).not.toContain(stale.nodeId);
    const refused = await produceTo(stale, topic, 0, ['nobody may take this'], -1, 2000);
    expect(refused.errorCode).not.toBe(0);
    expect(errorFromWire(refused.errorCode, refused.errorMessage).retriable).toBe(true);
    expect((await partitionOn(stale, topic, 0)).logEndOffset).toBe(10);
    // The client, retries off, reports a retriable error too (the partition has no leader).
    const client = new Sluice({ bootstrap: `127.0.0.1:${stale.port}`, logger: quiet });
    const failure = await client.producer({ acks: 'all', retries: 0, deliveryTimeoutMs: 5000 })
      .send({ topic, messages: [{ value: 'nor this', partition: 0 }] }).then(() => undefined, (error: unknown) => error);
    await client.close();
    expect(SluiceError.is(failure), String(failure)).toBe(true);
    expect((failure as SluiceError).retriable, String(failure)).toBe(true);

    // The stored ISR names who holds everything acknowledged: only it may lead again.
    const returning = cluster.broker(offline.isr[0]!);
    expect([leader.nodeId, other.nodeId]).toContain(returning.nodeId);
    const startedAt = Date.now();
    await cluster.start(returning.nodeId);
    await waitFor('the returning ISR member to lead', async () => (await metadataFrom(stale, topic, 0)).leader === returning.nodeId, 20_000);
    const ledMs = Date.now() - startedAt;
    expect(await readAll(returning, topic, acknowledged.length)).toEqual(acknowledged);
    expect(await metric(stale, 'sluice_unclean_offsets_lost_total')).toBe(0);
    expect(stale.logs().some((line) => line.includes('unclean leader election'))).toBe(false);

    process.stdout.write(`unclean off: ${figures.join(', ')}; offline (leader -1) ${offlineMs} ms after the ISR was killed; `
      + `produce answered ${refused.errorCode} (retriable), the client ${(failure as SluiceError).code}; returning ISR member ${returning.nodeId} led ${ledMs} ms after its start; `
      + `${acknowledged.length} of ${acknowledged.length} acknowledged records there\n`);
  }, 90_000);

  it('unclean election on: the stale replica leads, and a returning ISR member truncates and reports exactly the offsets lost', async () => {
    const topic = 'unclean';
    const { cluster, leader, other, stale, acknowledged, staleEnd, killedAt, figures } = await staleReplicaAlone(topic, { 'unclean.leader.election.enable': 'true' });

    await waitFor('the stale replica to lead', async () => {
      try {
        return (await metadataFrom(stale, topic, 0)).leader === stale.nodeId;
      } catch {
        return false;
      }
    }, 20_000);
    const uncleanMs = Date.now() - killedAt;
    expect((await partitionOn(stale, topic, 0)).logEndOffset).toBe(staleEnd);
    // The new leader takes writes at the offsets the old ISR had acknowledged.
    const written = values('after-unclean', 3);
    const taken = await produceTo(stale, topic, 0, written, 1, 5000);
    expect(taken.errorCode, taken.errorMessage).toBe(0);
    expect(taken.baseOffset).toBe(staleEnd);

    const returning = leader;
    const startedAt = Date.now();
    await cluster.start(returning.nodeId);
    const line = await waitForLogLine(returning, 'truncating below the high watermark: acknowledged offsets are lost (unclean leader election)', 20_000);
    const truncatedMs = Date.now() - startedAt;
    expect(line).toMatchObject({ topic, partition: 0, from: acknowledged.length, to: staleEnd, highWatermark: acknowledged.length });
    expect(await metric(returning, 'sluice_unclean_offsets_lost_total')).toBe(acknowledged.length - staleEnd);

    await cluster.start(other.nodeId);
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    await waitForFullIsr(sluice.admin(), topic, 30_000);
    await sluice.close();
    const expected = [...acknowledged.slice(0, staleEnd), ...written];
    expect(await readAll(stale, topic, expected.length)).toEqual(expected);
    expect(await metric(other, 'sluice_unclean_offsets_lost_total')).toBe(acknowledged.length - staleEnd);

    for (const broker of cluster.brokers) await cluster.stop(broker.nodeId);
    const copies = [...replicaBatches(cluster, topic, 0, expected.length).values()];
    for (const copy of copies.slice(1)) expect(Buffer.concat(copy).equals(Buffer.concat(copies[0]!))).toBe(true);
    expect(copies[0]!.length).toBeGreaterThan(0);

    process.stdout.write(`unclean on: ${figures.join(', ')}; stale replica ${stale.nodeId} led ${uncleanMs} ms after the ISR was killed; `
      + `returning broker ${returning.nodeId} truncated ${acknowledged.length} -> ${staleEnd} ${truncatedMs} ms after its start `
      + `(sluice_unclean_offsets_lost_total ${acknowledged.length - staleEnd}); replicas identical\n`);
  }, 90_000);
});
