/**
 * min.insync.replicas on a real cluster (etcd and three brokers as processes, lease 2 s,
 * replica.lag.time.max.ms 3 s), topic RF 3 with min.insync.replicas=2, both followers SIGKILLed:
 * - before the ISR has shrunk, an acks=all produce is written on the leader and waits for the
 *   dead followers: it answers REQUEST_TIMED_OUT (7) at the request's timeout;
 * - once the ISR is the leader alone, acks=all is refused with NOT_ENOUGH_REPLICAS (19) and
 *   nothing is written (the leader's log end does not move), while acks=1 is still appended;
 * - when the two come back the leader expands the ISR to all three (metadata shows it, the
 *   leader's sluice_isr_expands_total moved) and acks=all succeeds again; an acks=all produce
 *   with a long timeout sent before the shrink stays parked through shrink and expansion and
 *   then succeeds.
 * Exact answer codes come from single produce requests sent to the leader (no client retries).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { errorCodes } from '../../proto/errors.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { leaders, waitForFullIsr } from '../helpers/cluster-checks.js';
import { closeProbes, createTopicOnceRegistered, metric, partitionOn, produceTo } from '../helpers/cluster-probes.js';

afterAll(async () => {
  closeProbes();
  await cleanupCluster();
});

const topic = 'min-isr';
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;

describe('min.insync.replicas=2 with two of three brokers down', () => {
  it('times out acks=all before the shrink, refuses it with NOT_ENOUGH_REPLICAS after (nothing written, acks=1 still works), and takes it again once the ISR expands back', async () => {
    const cluster = await startCluster({ brokers: 3 });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    const admin = sluice.admin();
    await createTopicOnceRegistered(admin, topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, topic);
    const leaderId = (await leaders(admin, topic)).get(0)!;
    const leader = cluster.broker(leaderId);
    const followers = cluster.brokers.map((broker) => broker.nodeId).filter((id) => id !== leaderId);

    expect((await produceTo(leader, topic, 0, ['all three in sync'], -1, 5000)).errorCode).toBe(0);
    const expandsBefore = await metric(leader, 'sluice_isr_expands_total');

    const killedAt = Date.now();
    await Promise.all(followers.map((id) => cluster.kill(id)));

    // Still three in the committed ISR: the batch is written and waits for followers that are gone.
    // A second one with a long timeout stays parked through the shrink until the ISR grows back.
    const requestTimeoutMs = 1000;
    const pending = produceTo(leader, topic, 0, ['waits for dead followers'], -1, requestTimeoutMs);
    const parked = produceTo(leader, topic, 0, ['parked until the followers return'], -1, 60_000);
    const early = await pending;
        expect(early.errorCode, early.errorMessage).toBe(errorCodes.SLUICE_ERR_REQUEST_TIMED_OUT.wire);
    expect(early.elapsedMs).toBeGreaterThanOrEqual(requestTimeoutMs - 5);
    expect(early.elapsedMs).toBeLessThan(requestTimeoutMs + 1500);

    await waitFor('the leader\'s ISR to shrink to itself', async () => (await partitionOn(leader, topic, 0)).isr.join() === String(leaderId), 20_000);
    const shrunkMs = Date.now() - killedAt;
    const metadata = (await admin.describeTopic(topic)).partitions[0]!;
    expect(metadata.leader).toBe(leaderId);
    expect(metadata.isr).toEqual([leaderId]);

    const before = await partitionOn(leader, topic, 0);
    const refused = await produceTo(leader, topic, 0, ['must not be written'], -1, 5000);
    expect(refused.errorCode, refused.errorMessage).toBe(errorCodes.SLUICE_ERR_NOT_ENOUGH_REPLICAS.wire);
    expect(refused.errorMessage).toMatch(/nothing was written/);
    expect((await partitionOn(leader, topic, 0)).logEndOffset).toBe(before.logEndOffset);

    const one = await produceTo(leader, topic, 0, ['acks=1 alone'], 1, 5000);
    expect(one.errorCode, one.errorMessage).toBe(0);
    expect(one.baseOffset).toBe(before.logEndOffset);
    expect((await partitionOn(leader, topic, 0)).logEndOffset).toBe(before.logEndOffset + 1);

    const restartedAt = Date.now();
    await Promise.all(followers.map((id) => cluster.start(id)));
    await waitForFullIsr(admin, topic, 30_000);
    const expandedMs = Date.now() - restartedAt;
    const healed = (await admin.describeTopic(topic)).partitions[0]!;
    expect(healed.leader).toBe(leaderId);
    expect([...healed.isr].sort()).toEqual([1, 2, 3]);
    expect(await metric(leader, 'sluice_isr_expands_total')).toBeGreaterThanOrEqual(expandsBefore + 2);

    const stayed = await parked;
    expect(stayed.errorCode, stayed.errorMessage).toBe(0);
    expect(stayed.baseOffset).toBe(2);
    const after = await produceTo(leader, topic, 0, ['all three in sync again'], -1, 5000);
    expect(after.errorCode, after.errorMessage).toBe(0);
    // The acks=1 record and the timed-out batch are committed now too; the refused one never existed.
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign([{ topic, partition: 0 }]);
    const values: string[] = [];
    const deadline = Date.now() + 15_000;
    while (values.length < after.baseOffset + 1 && Date.now() < deadline) {
      for (const record of await consumer.poll({ timeoutMs: 500 })) values.push(record.value?.toString() ?? '');
    }
    await consumer.close();
    expect(values).toEqual(['all three in sync', 'waits for dead followers', 'parked until the followers return', 'acks=1 alone', 'all three in sync again']);

    process.stdout.write(`min ISR: acks=all before the shrink answered REQUEST_TIMED_OUT after ${early.elapsedMs} ms (timeout ${requestTimeoutMs}); `
      + `ISR shrank to the leader (acks=all refused from then on) ${shrunkMs} ms after the kill; NOT_ENOUGH_REPLICAS answered in ${refused.elapsedMs} ms; `
      + `acks=1 in ${one.elapsedMs} ms; ISR back to 3 ${expandedMs} ms after restart; the acks=all parked through it all answered after ${stayed.elapsedMs} ms; `
      + `acks=all then in ${after.elapsedMs} ms\n`);
    await sluice.close();
  }, 90_000);
});
