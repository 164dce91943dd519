/**
 * The KIP-101 case on a real cluster (etcd and three brokers as processes, lease 2 s), built with
 * SIGSTOP/SIGCONT: both followers are paused; the leader appends acks=1 records they never get
 * (beyond the high watermark) and an acks=all batch that waits for them; the leader is paused
 * until its lease expires and a follower is elected; acks=all records go to the new leader at
 * those same offsets; the old leader is resumed. It must truncate what it had beyond the high
 * watermark (by leader epoch) and answer the waiting acks=all batch NOT_LEADER_OR_FOLLOWER,
 * never acknowledge it: with min.insync.replicas=1 a shrink of the ISR to itself would let its
 * high watermark pass the batch, so the metadata store must refuse that shrink from a deposed
 * leader. Afterwards every replica holds the same bytes, and a consumer that read up to the
 * high watermark from whichever broker led, the whole time, saw only records that are in the
 * final log at the same offsets.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { brokerMemory } from '../../bench/broker-process.js';
import { Log } from '../../broker/storage/log.js';
import { Sluice } from '../../client/sluice.js';
import { errorCodes } from '../../proto/errors.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { leaders, replicaBatches, waitForFullIsr } from '../helpers/cluster-checks.js';
import { closeProbes, consumerFetch, createTopicOnceRegistered, metadataFrom, partitionOn, produceTo, waitForLogLine } from '../helpers/cluster-probes.js';
import { logRecords } from '../helpers/log-contents.js';
import path from 'node:path';

afterAll(async () => {
  closeProbes();
  await cleanupCluster();
});

const topic = 'diverging';
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
const values = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

describe('a leader with records beyond the high watermark loses its leadership', () => {
  it('truncates them when it returns as a follower, replicas end identical, and no consumer saw a record that vanished', async () => {
    const cluster = await startCluster({ brokers: 3 });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    const admin = sluice.admin();
    await createTopicOnceRegistered(admin, topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '1' } });
    await waitForFullIsr(admin, topic);
    const oldLeader = cluster.broker((await leaders(admin, topic)).get(0)!);
    const followers = cluster.brokers.filter((broker) => broker !== oldLeader);

    // A consumer that reads, up to the high watermark, from any broker that answers as leader.
    const paused = new Set<number>();
    const seen = new Map<number, string>();
    let reading = true;
    const reader = (async () => {
      const deadline = Date.now() + 100_000;
      while (reading && Date.now() < deadline) {
        for (const broker of cluster.brokers) {
          if (paused.has(broker.nodeId) || broker.process === undefined) continue;
          try {
            const { result, records } = await consumerFetch(broker, topic, 0, seen.size, 500);
            if (result.errorCode !== 0) continue;
            for (const record of records) if (record.offset === seen.size) seen.set(record.offset, record.value);
          } catch {
            // Down or paused meanwhile: ask the others.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const committed = await produceTo(oldLeader, topic, 0, values('committed', 10), -1, 10_000);
    expect(committed.errorCode, committed.errorMessage).toBe(0);
    await waitFor('both followers to hold the committed records', async () =>
      (await Promise.all(followers.map((broker) => partitionOn(broker, topic, 0)))).every((view) => view.logEndOffset === 10));
    await waitFor('the consumer to see the committed records', () => seen.size === 10);

    // Followers stopped; once the leader has answered their parked fetches (empty) nothing can
    // carry what it appends next to them.
    for (const broker of followers) {
      paused.add(broker.nodeId);
      cluster.pause(broker.nodeId);
    }
    const followersPausedAt = Date.now();
    await waitFor('no follower fetch parked on the leader', async () => (await brokerMemory(oldLeader.process!.httpPort)).parkedRequests === 0, 5000);
    const beyond = await produceTo(oldLeader, topic, 0, values('beyond-the-high-watermark', 5), 1, 5000);
    expect(beyond.errorCode, beyond.errorMessage).toBe(0);
    // An acks=all batch is written too and waits: it must never be acknowledged, as it will vanish.
    const waiting = produceTo(oldLeader, topic, 0, values('never-acknowledged', 3), -1, 60_000);
    await waitFor('the acks=all batch to be written on the old leader', async () => (await partitionOn(oldLeader, topic, 0)).logEndOffset === 18, 5000);
    const stranded = await partitionOn(oldLeader, topic, 0);
    expect(stranded).toMatchObject({ role: 'leader', highWatermark: 10, logEndOffset: 18 });

    const pausedAt = Date.now();
    paused.add(oldLeader.nodeId);
    cluster.pause(oldLeader.nodeId);
    for (const broker of followers) {
      cluster.resume(broker.nodeId);
      paused.delete(broker.nodeId);
    }
    let newLeaderId = -1;
    await waitFor('a follower to be elected leader', async () => {
      try {
        newLeaderId = (await metadataFrom(followers[0]!, topic, 0)).leader;
      } catch {
        return false;
      }
      return newLeaderId >= 0 && newLeaderId !== oldLeader.nodeId;
    }, 20_000);
    const electedMs = Date.now() - pausedAt;
    const newLeader = cluster.broker(newLeaderId);
    let replacement = await produceTo(newLeader, topic, 0, values('new-leader', 7), -1, 5000);
    // The new leader may need a moment to learn its role; only NOT_LEADER is worth a second try.
    for (let attempt = 0; attempt < 20 && replacement.errorCode !== 0; attempt += 1) {
      expect(replacement.errorCode, replacement.errorMessage).toBe(6);
      await waitFor('the new leader to know it leads', async () => (await partitionOn(newLeader, topic, 0)).role === 'leader', 5000);
      replacement = await produceTo(newLeader, topic, 0, values('new-leader', 7), -1, 5000);
    }
    expect(replacement.errorCode, replacement.errorMessage).toBe(0);
    expect(replacement.baseOffset).toBe(10);
    const ackedMs = Date.now() - pausedAt;
    // The old leader stays paused past replica.lag.time.max.ms (3 s) since its followers last
    // fetched, so on waking, before it hears of the new leader, its ISR timer proposes shrinking
    // the ISR to itself: with min.insync.replicas=1 that would let its high watermark pass the
    // waiting acks=all batch, so the metadata store must refuse it from a deposed leader.
    await waitFor('the replica lag time to pass for the old leader', () => Date.now() - followersPausedAt > 3500, 10_000);
    const logLinesBefore = oldLeader.logs().length;

    const resumedAt = Date.now();
    cluster.resume(oldLeader.nodeId);
    paused.delete(oldLeader.nodeId);
    const line = await waitForLogLine(oldLeader, 'truncating a diverged follower log', 20_000);
    const truncatedMs = Date.now() - resumedAt;
    expect(line).toMatchObject({ topic, partition: 0, from: 18, to: 10 });
    const refused = await waiting;
    expect(refused.errorCode, `the old leader acknowledged a batch it then truncated: ${refused.errorMessage}`).toBe(errorCodes.SLUICE_ERR_NOT_LEADER_OR_FOLLOWER.wire);
    expect(oldLeader.logs().some((entry) => entry.includes('acknowledged offsets are lost'))).toBe(false);
    const woke = oldLeader.logs().slice(logLinesBefore);
    expect(woke.some((entry) => entry.includes('"kind":"shrink"') && entry.includes('proposing ISR change')), 'the deposed leader tried to shrink the ISR').toBe(true);
    expect(woke.some((entry) => entry.includes('ISR shrunk')), 'the deposed leader\'s shrink was committed').toBe(false);
    await waitForFullIsr(admin, topic, 30_000);
    const healedMs = Date.now() - resumedAt;
    await waitFor('the consumer to see every committed record', () => seen.size === 17, 10_000);
    reading = false;
    await reader;
    await sluice.close();

    for (const broker of cluster.brokers) await cluster.stop(broker.nodeId);
    const copies = replicaBatches(cluster, topic, 0, 17);
    const first = [...copies.values()][0]!;
    for (const [nodeId, copy] of copies) expect(Buffer.concat(copy).equals(Buffer.concat(first)), `broker ${nodeId}'s copy`).toBe(true);
    const log = Log.open(path.join(newLeader.dataDirectory, `${topic}-0`));
    const final = logRecords(log).map((record) => record.value?.toString() ?? '');
    log.close();
    expect(final).toEqual([...values('committed', 10), ...values('new-leader', 7)]);
    for (const [offset, value] of seen) expect(final[offset], `offset ${offset} as the consumer saw it`).toBe(value);

    process.stdout.write(`divergence: old leader ${oldLeader.nodeId} paused with 8 records beyond HW 10 (5 acks=1, 3 acks=all waiting); broker ${newLeaderId} elected ${electedMs} ms later, `
      + `acks=all there ${ackedMs} ms after the pause; old leader truncated 18 -> 10 ${truncatedMs} ms after it resumed (its waiting acks=all answered ${refused.errorCode} after ${refused.elapsedMs} ms), ISR full again after ${healedMs} ms; `
      + `consumer saw ${seen.size} records, all in the final log; replicas identical\n`);
  }, 90_000);
});
