/**
 * A network partition (REPLICATION-FACTS.md §R), with etcd and three brokers as real processes
 * in a private network namespace, each on its own loopback address: the leader of a partition
 * is cut off from etcd and from both followers (iptables DROP both ways) while clients still
 * reach it. Its ISR cannot shrink without etcd, so it stops acknowledging acks=all (it still
 * appends acks=1 records, which are doomed); the majority side elects a new leader and takes the
 * producer's records; after healing, the old leader follows and truncates what it had beyond
 * the high watermark. No acknowledged record is lost, the replicas end identical, and no reader
 * (a consumer following the leaders, and one pinned to the old leader) ever saw a record that
 * is not in the final log at the same offset.
 *
 * Needs root (unshare --net), nsenter, iproute2 and iptables; without them it fails saying which.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AckRecorder, verifyHeaders, verifyTopic } from '../../bench/verify.js';
import { Log } from '../../broker/storage/log.js';
import { BrokerConnection } from '../../client/connection.js';
import { Sluice } from '../../client/sluice.js';
import { errorFromWire } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { buildRecordBatch, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster } from '../helpers/cluster.js';
import { leaders, replicaBatches, waitForFullIsr } from '../helpers/cluster-checks.js';
import { logRecords } from '../helpers/log-contents.js';
import { cleanupNetworkNamespaces } from '../helpers/network-namespace.js';
import { startPartitionableCluster } from '../helpers/partitioned-cluster.js';

afterAll(async () => {
  await cleanupCluster();
  await cleanupNetworkNamespaces();
});

const topic = 'ledger';
const partitions = 3;
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;

interface LogLine {
  msg?: string;
  topic?: string;
  partition?: number;
  from?: number;
  to?: number;
}

const parsed = (lines: string[]): LogLine[] => lines.flatMap((line) => {
  try {
    return [JSON.parse(line) as LogLine];
  } catch {
    return [];
  }
});

/** What a reader was handed: value per "partition:offset", and any offset it was handed two different values at. */
class Sightings {
  readonly seen = new Map<string, string>();
  readonly conflicts: string[] = [];

  add(partition: number, offset: number, value: string): void {
    const key = `${partition}:${offset}`;
    const before = this.seen.get(key);
    if (before !== undefined && before !== value) this.conflicts.push(`${key} was "${before}", then "${value}"`);
    this.seen.set(key, value);
  }
}

describe('a network partition cuts a leader off from etcd and its followers', () => {
  it('stops acks=all on the cut-off leader, elects a leader on the majority side, truncates the old leader after healing, loses nothing', async () => {
    const cluster = await startPartitionableCluster({ brokers: 3, args: ['--offsets-topic-num-partitions', '3'] });
    const host = (nodeId: number) => cluster.network.brokerHost(nodeId);
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    const admin = sluice.admin();
    await admin.createTopic(topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, topic);
    // The victim is broker 1, the first of the bootstrap list: the broker every client asks for metadata.
    const victim = 1;
    const led = [...(await leaders(admin, topic))].filter(([, leader]) => leader === victim).map(([partition]) => partition);
    expect(led.length, 'broker 1 leads no partition of the topic').toBeGreaterThan(0);
    const target = led[0]!;
    const majority = cluster.brokers.filter((broker) => broker.nodeId !== victim);
    const victimPort = cluster.broker(victim).port;

    // The followers' fetch connections to the victim come from their own addresses, so the rules below cut them.
    const sockets = (await cluster.namespace.exec('ss', '-tnH', 'state', 'established')).split('\n').map((line) => line.trim().split(/\s+/));
    for (const follower of majority) {
      const link = sockets.some((columns) => columns.includes(`${host(victim)}:${victimPort}`) && columns.some((column) => column.startsWith(`${host(follower.nodeId)}:`)));
      expect(link, `no connection from ${host(follower.nodeId)} to the leader ${host(victim)}:${victimPort}:\n${sockets.map((columns) => columns.join(' ')).join('\n')}`).toBe(true);
    }

    // An acks=all producer over every partition, recording when each acknowledged record was sent and acknowledged.
    const producer = sluice.producer({ acks: 'all', deliveryTimeoutMs: 60_000, lingerMs: 1, requestTimeoutMs: 2_000 });
    const recorder = new AckRecorder('np');
    const acknowledged: Array<{ partition: number; sentAt: number; at: number }> = [];
    let sequence = 0;
    let failures = 0;
    let producing = true;
    const inflight = new Set<Promise<void>>();
    const pump = (async () => {
      while (producing) {
        const partition = sequence % partitions;
        const id = sequence;
        sequence += 1;
        const sentAt = Date.now();
        const sending = producer.send({ topic, messages: [{ value: `record ${id}`, headers: verifyHeaders('np', id, partition), partition }] }).then(() => {
          recorder.acknowledged(id, partition);
          acknowledged.push({ partition, sentAt, at: Date.now() });
        }, () => { failures += 1; });
        inflight.add(sending);
        void sending.finally(() => inflight.delete(sending));
        if (inflight.size >= 16) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    })();

    // A consumer following whichever broker its metadata names as leader.
    let reading = true;
    const following = new Sightings();
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 200 });
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
    const consuming = (async () => {
      while (reading) {
        for (const record of await consumer.poll({ timeoutMs: 200 }).catch(() => [])) following.add(record.partition, record.offset, record.value?.toString() ?? '');
      }
    })();

    // A reader pinned to the victim, as a consumer whose metadata still names it would be.
    const pinnedConnection = new BrokerConnection({ host: host(victim), port: victimPort, clientId: 'pinned-reader', requestTimeoutMs: 5_000 });
    const pinned = new Sightings();
    const positions = new Map(led.map((partition) => [partition, 0]));
    let pinnedFetches = 0;
    const pinnedReading = (async () => {
      while (reading) {
        try {
          const response = await pinnedConnection.request<'fetch'>(Api.FETCH, {
            maxWaitMs: 200, minBytes: 1, maxBytes: 1 << 20,
            topics: [{ name: topic, partitions: led.map((partition) => ({ partition, fetchOffset: positions.get(partition)!, maxBytes: 1 << 20 })) }],
          });
          pinnedFetches += 1;
          for (const result of response.topics[0]?.partitions ?? []) {
            if (result.errorCode !== 0 || result.records.length === 0) continue;
            for (const { position, size } of eachBatch(result.records)) {
              for (const record of decodeRecords(result.records.subarray(position, position + size))) {
                if (record.offset < positions.get(result.partition)!) continue;
                pinned.add(result.partition, record.offset, record.value?.toString() ?? '');
                positions.set(result.partition, record.offset + 1);
              }
            }
          }
          if (response.topics[0]?.partitions.some((result) => result.errorCode !== 0)) await new Promise((resolve) => setTimeout(resolve, 100));
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();

    const ackedOn = (partition: number, sentAfter = 0) => acknowledged.filter((ack) => ack.partition === partition && ack.sentAt >= sentAfter).length;
    await waitFor('acknowledged records on every partition before the cut', () => Array.from({ length: partitions }, (_, p) => ackedOn(p)).every((count) => count >= 20), 20_000);

    // ---- the cut ----
    const cutAt = Date.now();
    await cluster.isolate(victim);
    // Records sent while the rules went in may still have been acknowledged by the old leader.
    const cutDoneAt = Date.now();

    // The victim still takes requests from clients, but cannot commit: acks=all times out; acks=1 appends records that are doomed.
    const probe = async (acks: number, value: string) => {
      const response = await pinnedConnection.request<'produce'>(Api.PRODUCE, {
        acks, timeoutMs: 1_500, topics: [{ name: topic, partitions: [{ partition: target, records: buildRecordBatch([{ key: null, value: Buffer.from(value) }]) }] }],
      }, { timeoutMs: 5_000 });
      return response.topics[0]!.partitions[0]!;
    };
    const probeAllStarted = Date.now();
    const probeAll = await probe(-1, 'doomed acks=all');
    const probeAllMs = Date.now() - probeAllStarted;
    expect(probeAll.errorCode === 0 ? 'acknowledged' : errorFromWire(probeAll.errorCode, probeAll.errorMessage).code).toBe('SLUICE_ERR_REQUEST_TIMED_OUT');
    const doomed: Array<{ value: string; offset: number }> = [];
    for (let n = 0; n < 5; n += 1) {
      const answer = await probe(1, `doomed acks=1 #${n}`);
      expect(answer.errorCode, answer.errorMessage).toBe(0);
      doomed.push({ value: `doomed acks=1 #${n}`, offset: answer.baseOffset });
    }

    // The majority side elects a new leader of the target partition (asked of the majority brokers only).
    const majoritySluice = new Sluice({ bootstrap: majority.map((broker) => `${host(broker.nodeId)}:${broker.port}`).join(','), logger: quiet });
    const majorityAdmin = majoritySluice.admin();
    let newLeader = -1;
    await waitFor(`a new leader of partition ${target} on the majority side`, async () => {
      newLeader = (await leaders(majorityAdmin, topic).catch(() => new Map<number, number>())).get(target) ?? -1;
      return newLeader >= 0 && newLeader !== victim;
    }, 20_000);
    const electedMs = Date.now() - cutAt;
    // ... and the producer's acks=all records go on there.
    await waitFor(`acks=all records of partition ${target} sent after the cut acknowledged by the new leader`, () => ackedOn(target, cutDoneAt) >= 20, 20_000);
    const producingAgainMs = Math.min(...acknowledged.filter((ack) => ack.partition === target && ack.sentAt >= cutDoneAt).map((ack) => ack.at)) - cutAt;

    // ---- healing ----
    const healAt = Date.now();
    await cluster.heal();
    const truncation = () => parsed(cluster.broker(victim).logs()).find((line) => line.msg === 'truncating a diverged follower log' && line.topic === topic && line.partition === target);
    await waitFor(`the old leader to truncate partition ${target}`, () => truncation() !== undefined, 30_000);
    const truncatedMs = Date.now() - healAt;
    await waitForFullIsr(majorityAdmin, topic, 30_000);
    const rejoinedMs = Date.now() - healAt;
    const { from, to } = truncation()!;
    expect(to!).toBeLessThanOrEqual(Math.min(...doomed.map((record) => record.offset)));

    producing = false;
    await pump;
    reading = false;
    await Promise.all([consuming, pinnedReading]);
    pinnedConnection.close();

    const report = await verifyTopic(majoritySluice.bootstrap.map((address) => `${address.host}:${address.port}`), { runId: 'np', topic, producers: [recorder.toJSON()] }, { timeoutMs: 30_000 });
    const ends = new Map((await majorityAdmin.describeTopic(topic)).partitions.map((partition) => [partition.partition, partition.logEndOffset]));
    await majoritySluice.close();
    await sluice.close();
    for (const broker of cluster.brokers) await cluster.stop(broker.nodeId);

    process.stdout.write(`network partition: broker ${victim} cut off (led ${led.join(',')}); its acks=all answered REQUEST_TIMED_OUT after ${probeAllMs} ms; `
      + `new leader ${newLeader} of partition ${target} seen ${electedMs} ms after the cut, acks=all records acknowledged again ${producingAgainMs} ms after it; `
      + `healed: old leader truncated ${from}→${to} after ${truncatedMs} ms, ISR full after ${rejoinedMs} ms; `
      + `${sequence} records sent, ${report.totals.acknowledged} acknowledged, ${failures} failed, ${report.totals.missing} missing, ${report.totals.duplicated} duplicated; `
      + `readers saw ${following.seen.size} (following) and ${pinned.seen.size} (pinned to the old leader, ${pinnedFetches} fetches) records\n`);
    expect(report.totals.missing).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);

    // Replicas identical up to the high watermark; the final log is any of them.
    const final = new Map<string, string>();
    for (let partition = 0; partition < partitions; partition += 1) {
      const copies = [...replicaBatches(cluster, topic, partition, ends.get(partition)!).values()];
      expect(copies[0]!.length).toBeGreaterThan(0);
      for (const copy of copies.slice(1)) expect(Buffer.concat(copy).equals(Buffer.concat(copies[0]!))).toBe(true);
      const log = Log.open(path.join(majority[0]!.dataDirectory, `${topic}-${partition}`));
      try {
        for (const record of logRecords(log)) if (record.offset < ends.get(partition)!) final.set(`${partition}:${record.offset}`, record.value?.toString() ?? '');
      } finally {
        log.close();
      }
    }
    for (const record of doomed) expect([...final.values()]).not.toContain(record.value);
    expect([...final.values()]).not.toContain('doomed acks=all');
    // No reader was ever handed a record that later vanished or moved.
    for (const [name, sightings] of [['following', following], ['pinned', pinned]] as const) {
      expect(sightings.conflicts, name).toEqual([]);
      const vanished = [...sightings.seen].filter(([key, value]) => final.get(key) !== value).map(([key, value]) => `${key} "${value}" (final: ${final.get(key) ?? 'nothing'})`);
      expect(vanished, `${name} reader saw records not in the final log`).toEqual([]);
    }
    expect(following.seen.size).toBeGreaterThan(0);
    expect(pinned.seen.size).toBeGreaterThan(0);
  }, 120_000);
});
