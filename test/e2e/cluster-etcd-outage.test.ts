/**
 * etcd away for 10 s under a real cluster (three brokers as processes, RF 3,
 * min.insync.replicas=2). With a single etcd stopped, the data path does not notice: acks=all
 * produces and fetches on existing partitions keep succeeding throughout (counted), while
 * CreateTopics fails fast with the retriable METADATA_STORE error; once etcd is back elections
 * work again (a SIGKILLed leader is replaced). With a 3-member etcd one member stopped for
 * 10 s changes nothing: produce, fetch, CreateTopics and elections all go on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../proto/errors.js';
import type { Admin } from '../../client/admin.js';
import { Sluice } from '../../client/sluice.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster, type TestCluster } from '../helpers/cluster.js';
import { leaders, waitForFullIsr } from '../helpers/cluster-checks.js';

afterAll(cleanupCluster);

const topic = 'ledger';
const partitions = 3;
const outageMs = 10_000;
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;

/** An acks=all producer and a consumer on every partition, counting what succeeds and when. */
function traffic(sluice: Sluice) {
  const producer = sluice.producer({ acks: 'all', lingerMs: 1 });
  const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 100 });
  consumer.assign([...Array(partitions).keys()].map((partition) => ({ topic, partition, offset: 0 })));
  const acks: number[] = [];
  const fetched: number[] = [];
  const errors: unknown[] = [];
  let running = true;
  let sequence = 0;
  const producing = (async () => {
    const inflight = new Set<Promise<void>>();
    while (running) {
      const partition = sequence % partitions;
      sequence += 1;
      const sending = producer.send({ topic, messages: [{ value: `entry ${sequence}`, partition }] }).then(() => { acks.push(Date.now()); }, (error: unknown) => { errors.push(error); });
      inflight.add(sending);
      void sending.finally(() => inflight.delete(sending));
      if (inflight.size >= 16) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await producer.close();
  })();
  const consuming = (async () => {
    while (running) {
      try {
        for (const _ of await consumer.poll({ timeoutMs: 200 })) fetched.push(Date.now());
      } catch (error) {
        errors.push(error);
      }
    }
    await consumer.close();
  })();
  const between = (list: number[], from: number, to: number) => list.filter((at) => at >= from && at < to).length;
  return {
    errors,
    /** acks=all produces acknowledged and records fetched in [from, to). */
    counts: (from: number, to: number) => ({ acks: between(acks, from, to), fetched: between(fetched, from, to) }),
    /** The longest time in [from, to) without an acknowledgement. */
    longestAckGap: (from: number, to: number) => {
      const inside = [from, ...acks.filter((at) => at >= from && at < to), to];
      return Math.max(...inside.slice(1).map((at, i) => at - inside[i]!));
    },
    stop: async () => {
      running = false;
      await Promise.all([producing, consuming]);
    },
  };
}

/** Three brokers on `etcdMembers` etcd members, the topic at full ISR, and traffic flowing through it. */
async function clusterUnderLoad(etcdMembers: number) {
  const cluster = await startCluster({ brokers: 3, etcdMembers });
  const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
  const admin = sluice.admin();
  await admin.createTopic(topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
  await waitForFullIsr(admin, topic);
  const load = traffic(sluice);
  const warmUp = Date.now();
  try {
    await waitFor('traffic flowing', () => load.counts(warmUp, Date.now()).acks > 20 && load.counts(warmUp, Date.now()).fetched > 20, 15_000);
  } catch (error) {
    await load.stop();
    await sluice.close();
    throw error;
  }
  return { cluster, sluice, admin, load };
}

/** SIGKILLs the leader of partition 0 and waits for another broker to lead it and take an acks=all produce; returns the time that took. */
async function killLeaderAndWaitForElection(cluster: TestCluster, admin: Admin, sluice: Sluice): Promise<{ victim: number; leader: number; electedMs: number; producedMs: number }> {
  const victim = (await leaders(admin, topic)).get(0)!;
  const killedAt = Date.now();
  await cluster.kill(victim);
  let leader = -1;
  await waitFor(`a new leader for ${topic}-0`, async () => {
    leader = (await leaders(admin, topic).catch(() => new Map<number, number>())).get(0) ?? -1;
    return leader >= 0 && leader !== victim;
  }, 20_000);
  const electedMs = Date.now() - killedAt;
  const producer = sluice.producer({ acks: 'all', deliveryTimeoutMs: 20_000 });
  await producer.send({ topic, messages: [{ value: 'after the election', partition: 0 }] });
  await producer.close();
  return { victim, leader, electedMs, producedMs: Date.now() - killedAt };
}

describe('etcd outages under a running cluster', () => {
  it('single etcd stopped for 10 s: produce and fetch go on, CreateTopics fails fast with METADATA_STORE, elections resume once it is back', async () => {
    const { cluster, sluice, admin, load } = await clusterUnderLoad(1);
    try {

      await cluster.etcd.members[0]!.stop();
      const down = Date.now();
      const started = performance.now();
      const refused = await admin.createTopic('during-outage', { partitions: 1, replicationFactor: 3 }).then(() => undefined, (error: unknown) => error);
      const createMs = performance.now() - started;
      expect(SluiceError.is(refused) && refused.code).toBe('SLUICE_ERR_METADATA_STORE');
      expect((refused as SluiceError).retriable).toBe(true);
      expect(createMs).toBeLessThan(2_000);
      // The outage itself, measured by the traffic it did not stop.
      await waitFor('10 s of outage', () => Date.now() - down >= outageMs, outageMs + 1_000);
      const during = load.counts(down, Date.now());
      const gap = load.longestAckGap(down, Date.now());
      await cluster.etcd.members[0]!.start();
      const up = Date.now();

      expect(during.acks).toBeGreaterThan(50);
      expect(during.fetched).toBeGreaterThan(50);
      expect(gap).toBeLessThan(3_000);
      expect(load.errors).toEqual([]);

      // Back: topics can be created and a SIGKILLed leader is replaced.
      await waitFor('CreateTopics works again', () => admin.createTopic('after-outage', { partitions: 1, replicationFactor: 3 }).then(() => true, (error: unknown) => {
        if (SluiceError.is(error) && error.code === 'SLUICE_ERR_METADATA_STORE') return false;
        if (SluiceError.is(error) && error.code === 'SLUICE_ERR_TOPIC_ALREADY_EXISTS') return true;
        throw error;
      }), 15_000);
      const createdAgainMs = Date.now() - up;
      const election = await killLeaderAndWaitForElection(cluster, admin, sluice);
      process.stdout.write(`single etcd down ${outageMs} ms: ${during.acks} acks=all produces and ${during.fetched} records fetched meanwhile, longest gap between acks ${gap} ms, `
        + `CreateTopics refused with METADATA_STORE in ${createMs.toFixed(0)} ms; after restart CreateTopics works in ${createdAgainMs} ms; `
        + `leader ${election.victim} SIGKILLed → broker ${election.leader} leads after ${election.electedMs} ms and took an acks=all produce after ${election.producedMs} ms\n`);
      expect(load.errors).toEqual([]);
    } finally {
      await load.stop();
      await sluice.close();
    }
  }, 90_000);

  it('3-member etcd with one member stopped for 10 s: produce, fetch, CreateTopics and elections all keep working', async () => {
    const { cluster, sluice, admin, load } = await clusterUnderLoad(3);
    try {

      await cluster.etcd.members[2]!.stop();
      const down = Date.now();
      await admin.createTopic('during-outage', { partitions: 3, replicationFactor: 3 });
      // The first member holds the etcd leadership as often as not: the election must work either way.
      const election = await killLeaderAndWaitForElection(cluster, admin, sluice);
      await waitFor('10 s of outage', () => Date.now() - down >= outageMs, outageMs + 15_000);
      const during = load.counts(down, Date.now());
      const gap = load.longestAckGap(down, Date.now());
      await cluster.etcd.members[2]!.start();
      await cluster.start(election.victim);
      await waitForFullIsr(admin, topic);
      process.stdout.write(`one of 3 etcd members down ${Date.now() - down} ms: ${during.acks} acks=all produces and ${during.fetched} records fetched meanwhile, longest gap between acks ${gap} ms (a leader SIGKILL inside); `
        + `CreateTopics worked; leader ${election.victim} SIGKILLed → broker ${election.leader} leads after ${election.electedMs} ms and took an acks=all produce after ${election.producedMs} ms\n`);
      expect(during.acks).toBeGreaterThan(50);
      expect(during.fetched).toBeGreaterThan(50);
      expect(load.errors).toEqual([]);
    } finally {
      await load.stop();
      await sluice.close();
    }
  }, 90_000);
});
