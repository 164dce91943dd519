/**
 * Producer state fails over with the leader: in a three-broker cluster (etcd, brokers as
 * processes) followers build the producer state from the batches they replicate, so after the
 * leader is SIGKILLed a batch replayed byte for byte to the new leader is still a duplicate
 * (original offset, stored once), a gap is still refused, and an aborted transaction written
 * on the old leader is still listed for read_committed readers. Before that, a read_committed
 * long poll on the leader wakes when a commit marker is replicated.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { Api, type FetchPartitionResult } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { leaders, waitForFullIsr } from '../helpers/cluster-checks.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupCluster);

const topic = 'idempotent';
let correlationId = 0;

async function request<T>(port: number, body: Record<string, unknown>, api: number, field: string): Promise<T | undefined> {
  const raw = await RawClient.connect(port).catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    correlationId += 1;
    raw.send(encodeRequest({ api, version: 1, correlationId, clientId: 'cluster-idempotent', ...body } as Parameters<typeof encodeRequest>[0]));
    const response = await raw.response(1, 15_000);
    return (response as unknown as Record<string, T> | undefined)?.[field];
  } finally {
    raw.close();
  }
}

interface ProduceResult { errorCode: number; baseOffset: number }

async function produce(port: number, records: Buffer): Promise<ProduceResult | undefined> {
  const response = await request<{ topics: Array<{ partitions: ProduceResult[] }> }>(port, {
    produce: { acks: -1, timeoutMs: 10_000, topics: [{ name: topic, partitions: [{ partition: 0, records: Buffer.from(records) }] }] },
  }, Api.PRODUCE, 'produce');
  return response?.topics[0]?.partitions[0];
}

function batch(producerId: number, baseSequence: number, transactional = false): Buffer {
  return buildRecordBatch(Array.from({ length: 4 }, (_, index) => ({ key: null, value: Buffer.from(`${producerId}/${baseSequence + index}`) })),
    { producerId, producerEpoch: 0, baseSequence, transactional });
}

describe('producer state in a cluster', () => {
  it('answers a replayed batch with its original offset on the new leader after the old one is killed', async () => {
    const cluster = await startCluster({ brokers: 3 });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never });
    try {
      const admin = sluice.admin();
      await admin.createTopic(topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
      await waitForFullIsr(admin, topic);
      const oldLeader = (await leaders(admin, topic)).get(0)!;
      const oldPort = cluster.broker(oldLeader).port;
      const first = batch(5000, 0);
      const second = batch(5000, 4);
      expect(await produce(oldPort, first)).toMatchObject({ errorCode: 0, baseOffset: 0 });
      expect(await produce(oldPort, second)).toMatchObject({ errorCode: 0, baseOffset: 4 });
      expect(await produce(oldPort, batch(6000, 0, true))).toMatchObject({ errorCode: 0, baseOffset: 8 });
      const markers = await request<{ markers: Array<{ topics: Array<{ partitions: Array<{ errorCode: number }> }> }> }>(oldPort, {
        writeTxnMarkers: { markers: [{ producerId: 6000, producerEpoch: 0, committed: false, coordinatorEpoch: 0, topics: [{ name: topic, partitions: [0] }] }] },
      }, Api.WRITE_TXN_MARKERS, 'writeTxnMarkers');
      expect(markers?.markers[0]?.topics[0]?.partitions[0]?.errorCode).toBe(0);

      // A read_committed long poll parked at an open transaction wakes once the commit marker is
      // replicated (the LSO moves with the high watermark).
      expect(await produce(oldPort, batch(7000, 0, true))).toMatchObject({ errorCode: 0, baseOffset: 13 });
      const started = Date.now();
      const parked = request<{ topics: Array<{ partitions: FetchPartitionResult[] }> }>(oldPort, {
        fetch: { maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: 13, maxBytes: 1 << 20 }] }] },
      }, Api.FETCH, 'fetch');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const commit = await request<{ markers: Array<{ topics: Array<{ partitions: Array<{ errorCode: number }> }> }> }>(oldPort, {
        writeTxnMarkers: { markers: [{ producerId: 7000, producerEpoch: 0, committed: true, coordinatorEpoch: 0, topics: [{ name: topic, partitions: [0] }] }] },
      }, Api.WRITE_TXN_MARKERS, 'writeTxnMarkers');
      expect(commit?.markers[0]?.topics[0]?.partitions[0]?.errorCode).toBe(0);
      const woken = (await parked)?.topics[0]?.partitions[0];
      expect(Date.now() - started).toBeLessThan(8000);
      expect(woken?.lastStableOffset).toBe(18);
      expect(woken?.records.length).toBeGreaterThan(0);

      await cluster.kill(oldLeader);
      let newLeader = -1;
      await waitFor('a new leader', async () => {
        newLeader = (await leaders(admin, topic).catch(() => new Map<number, number>())).get(0) ?? -1;
        return newLeader >= 0 && newLeader !== oldLeader;
      }, 30_000);
      const newPort = cluster.broker(newLeader).port;
      let replay: ProduceResult | undefined;
      // The new leader may still be taking over: retry until it answers other than "not leader".
      await waitFor('the new leader to take the replayed batch', async () => {
        replay = await produce(newPort, first);
        return replay !== undefined && replay.errorCode === 0;
      }, 30_000);
      expect(replay).toMatchObject({ errorCode: 0, baseOffset: 0 });
      expect(await produce(newPort, second)).toMatchObject({ errorCode: 0, baseOffset: 4 });
      expect((await produce(newPort, batch(5000, 12)))?.errorCode).toBe(45);
      expect(await produce(newPort, batch(5000, 8))).toMatchObject({ errorCode: 0, baseOffset: 18 });

      const fetched = await request<{ topics: Array<{ partitions: FetchPartitionResult[] }> }>(newPort, {
        fetch: { maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }] },
      }, Api.FETCH, 'fetch');
      expect(fetched?.topics[0]?.partitions[0]).toMatchObject({ highWatermark: 22, lastStableOffset: 22, abortedTransactions: [{ producerId: 6000, firstOffset: 8 }] });
    } finally {
      await sluice.close();
    }
  });
});
