/**
 * Group coordinator failover with real processes (etcd and three brokers): two members of a
 * group (the client's group consumer, committing after each batch they process) consume a
 * topic an acks=all producer is writing to; the broker coordinating the group (the leader of
 * its `__consumer_offsets` partition) is SIGKILLed mid-consumption. The members find the new
 * coordinator (NOT_COORDINATOR → FindCoordinator) and go on from their committed offsets: at
 * the end every acknowledged record was processed at least once, no member ever jumped past
 * an offset nobody had processed, and the committed offsets reach the end of each partition.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Consumer, ConsumerRecord } from '../../client/consumer.js';
import { Sluice } from '../../client/sluice.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { waitForFullIsr } from '../helpers/cluster-checks.js';

afterAll(cleanupCluster);

const topic = 'events';
const partitions = 4;
const groupId = 'billing';
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;

/** What the members processed, shared: per partition the offsets seen and the first one nobody has processed yet. */
class Processed {
  readonly offsets = new Map<number, Set<number>>();
  readonly #next = new Map<number, number>();
  /** A record handed out beyond the first unprocessed offset of its partition: something in between was skipped. */
  readonly skips: string[] = [];
  duplicates = 0;

  record(member: string, partition: number, offset: number): void {
    let seen = this.offsets.get(partition);
    if (seen === undefined) this.offsets.set(partition, seen = new Set());
    if (seen.has(offset)) this.duplicates += 1;
    seen.add(offset);
    let next = this.#next.get(partition) ?? 0;
    if (offset > next) this.skips.push(`${member} got ${topic}-${partition}@${offset} while ${next} was never processed`);
    while (seen.has(next)) next += 1;
    this.#next.set(partition, next);
  }

  next(partition: number): number {
    return this.#next.get(partition) ?? 0;
  }
}

/** One member: poll, process, commit what it processed; errors are kept, not thrown, so the test can show them. */
function runMember(sluice: Sluice, name: string, processed: Processed, running: () => boolean) {
  const consumer: Consumer = sluice.consumer({ groupId, autoCommit: false, autoOffsetReset: 'earliest', maxWaitMs: 100, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
  const pollErrors: unknown[] = [];
  const commitErrors: string[] = [];
  let batches = 0;
  consumer.subscribe([topic]);
  const done = (async () => {
    while (running()) {
      let records: ConsumerRecord[];
      try {
        records = await consumer.poll({ timeoutMs: 200 });
      } catch (error) {
        pollErrors.push(error);
        continue;
      }
      if (records.length === 0) continue;
      for (const record of records) processed.record(name, record.partition, record.offset);
      batches += 1;
      await consumer.commit().catch((error: unknown) => { commitErrors.push((error as { code?: string }).code ?? String(error)); });
    }
    await consumer.close();
  })();
  return { consumer, pollErrors, commitErrors, done, batches: () => batches };
}

describe('group coordinator failover', () => {
  it('members follow the coordinator to its new broker after a SIGKILL and carry on from their committed offsets, skipping nothing', async () => {
    const cluster = await startCluster({ brokers: 3, args: ['--offsets-topic-num-partitions', '6', '--group-initial-rebalance-delay-ms', '200'] });
    const producerClient = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    const admin = producerClient.admin();
    await admin.createTopic(topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, topic);
    // __consumer_offsets is made by the controller once three brokers are alive; FindCoordinator answers once it has a leader.
    await waitFor('a coordinator for the group', async () => admin.findCoordinator(groupId).then(() => true, () => false), 20_000);

    const producer = producerClient.producer({ acks: 'all', lingerMs: 5 });
    const acknowledged = new Map<number, number[]>();
    let producing = true;
    let sent = 0;
    const produceErrors: unknown[] = [];
    const produced = (async () => {
      const inflight = new Set<Promise<void>>();
      while (producing) {
        const sequence = sent;
        sent += 1;
        const sending = producer.send({ topic, messages: [{ key: `k${sequence}`, value: `event ${sequence}`, partition: sequence % partitions }] }).then(([meta]) => {
          acknowledged.set(meta!.partition, [...(acknowledged.get(meta!.partition) ?? []), meta!.offset]);
        }, (error: unknown) => { produceErrors.push(error); });
        inflight.add(sending);
        void sending.finally(() => inflight.delete(sending));
        if (inflight.size >= 16) await Promise.race(inflight);
      }
      await Promise.all(inflight);
      await producer.close();
    })();

    const processed = new Processed();
    let consuming = true;
    const clients = [new Sluice({ bootstrap: cluster.bootstrap, logger: quiet }), new Sluice({ bootstrap: cluster.bootstrap, logger: quiet })];
    const members = clients.map((client, index) => runMember(client, `member-${index + 1}`, processed, () => consuming));
    try {
      await waitFor('both members consuming, a few hundred records in', () => members.every((member) => member.consumer.assignment().length > 0 && member.batches() > 3)
        && [...Array(partitions).keys()].every((p) => processed.next(p) > 100), 30_000);
      const coordinator = await admin.findCoordinator(groupId);
      const before = [...Array(partitions).keys()].map((p) => processed.next(p));
      const killedAt = Date.now();
      await cluster.kill(coordinator.nodeId);

      // The members move on: a new coordinator, and progress on every partition past where they were.
      let moved: number | undefined;
      await waitFor('a new coordinator', async () => {
        const now = await admin.findCoordinator(groupId).catch(() => undefined);
        if (now !== undefined && now.nodeId !== coordinator.nodeId) moved = now.nodeId;
        return moved !== undefined;
      }, 20_000);
      const newCoordinatorMs = Date.now() - killedAt;
      const commitsBefore = members.map((member) => member.batches());
      await waitFor('consumption past the kill on every partition, with commits', () => {
        return [...Array(partitions).keys()].every((p) => processed.next(p) > before[p]! + 5) && members.some((member, i) => member.batches() > commitsBefore[i]!);
      }, 30_000);
      const resumedMs = Date.now() - killedAt;
      producing = false;
      await produced;

      // Everything acknowledged is processed and committed.
      const ends = new Map((await admin.describeTopic(topic)).partitions.map((p) => [p.partition, p.logEndOffset]));
      await waitFor('members processed up to the end of every partition', () => [...ends].every(([p, end]) => processed.next(p) >= end), 30_000);
      let committed = new Map<string, number>();
      await waitFor('committed offsets at the end of every partition', async () => {
        committed = await members[0]!.consumer.committed([topic]).catch(() => new Map());
        return [...ends].every(([p, end]) => (committed.get(`${topic}\u0000${p}`) ?? -1) >= end);
      }, 20_000);
      consuming = false;
      await Promise.all(members.map((member) => member.done));

      const acked = [...acknowledged.values()].reduce((sum, offsets) => sum + offsets.length, 0);
      const missing = [...acknowledged].flatMap(([p, offsets]) => offsets.filter((offset) => !processed.offsets.get(p)?.has(offset)).map((offset) => `${p}@${offset}`));
      const commitErrors = members.flatMap((member) => member.commitErrors);
      process.stdout.write(`coordinator failover: broker ${coordinator.nodeId} killed, broker ${moved} coordinates after ${newCoordinatorMs} ms, consumption and commits resumed on every partition after ${resumedMs} ms; `
        + `${sent} sent, ${acked} acknowledged, ${produceErrors.length} produce errors, ${[...processed.offsets.values()].reduce((s, o) => s + o.size, 0)} distinct records processed, `
        + `${processed.duplicates} processed again, ${processed.skips.length} skips, ${missing.length} missing; failed commits: ${commitErrors.length === 0 ? 'none' : commitErrors.join(', ')}\n`);
      expect(processed.skips).toEqual([]);
      expect(missing).toEqual([]);
      expect(members.flatMap((member) => member.pollErrors)).toEqual([]);
      // The new coordinator knows the offsets, not the members: a commit may be refused as from an
      // unknown member or old generation (the member rejoins), never lost to a timeout or another error.
      expect(commitErrors.filter((code) => !['SLUICE_ERR_UNKNOWN_MEMBER_ID', 'SLUICE_ERR_ILLEGAL_GENERATION', 'SLUICE_ERR_REBALANCE_IN_PROGRESS'].includes(code))).toEqual([]);
      expect(acked).toBeGreaterThan(100);
    } finally {
      consuming = false;
      producing = false;
      await Promise.allSettled([produced, ...members.map((member) => member.done)]);
      await Promise.all([producerClient.close(), ...clients.map((client) => client.close())]);
    }
  }, 120_000);
});
