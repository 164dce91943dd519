/**
 * The idempotent producer across an unclean leader election on a real cluster (etcd and three
 * brokers as processes): the stale replica that becomes leader knows the producer only up to
 * the batches it had, so the producer's next batch is a sequence gap to it
 * (OUT_OF_ORDER_SEQUENCE_NUMBER) even when sent alone. The producer then takes a new producer
 * id, numbers its unacknowledged batches from 0 again (Kafka's KIP-360), logs a warning, and
 * goes on: the send succeeds and lands after what the new leader had. (What the old ISR
 * acknowledged beyond that is lost: that is what an unclean election costs.) min.insync.replicas
 * is 1, so the lone new leader takes the idempotent producer's acks=all batches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { leaders, waitForFullIsr } from '../helpers/cluster-checks.js';
import { closeProbes, consumerFetch, createTopicOnceRegistered, metadataFrom, partitionOn } from '../helpers/cluster-probes.js';

afterAll(async () => {
  closeProbes();
  await cleanupCluster();
});

const values = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => ({ value: `${prefix}-${index}`, partition: 0 }));

describe('an idempotent producer across an unclean leader election', () => {
  it('gets a new producer id when the new leader lost its sequence state, warns, and goes on', async () => {
    const topic = 'unclean-idempotent';
    const cluster = await startCluster({ brokers: 3 });
    const warnings: Array<{ object: Record<string, unknown>; message: string }> = [];
    const logger = { warn: (object: Record<string, unknown>, message: string) => warnings.push({ object, message }), info: () => {}, debug: () => {}, error: () => {} };
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger });
    const admin = sluice.admin();
    await createTopicOnceRegistered(admin, topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true' } });
    await waitForFullIsr(admin, topic);
    const leaderId = (await leaders(admin, topic)).get(0)!;
    const leader = cluster.broker(leaderId);
    const [stale, other] = cluster.brokers.filter((broker) => broker.nodeId !== leaderId);

    const producer = sluice.producer({ lingerMs: 0, deliveryTimeoutMs: 60_000 });
    await producer.send({ topic, messages: values('everyone', 10) });
    await waitFor('the stale-to-be replica to have every record', async () => (await partitionOn(stale!, topic, 0)).logEndOffset === 10);
    cluster.pause(stale!.nodeId);
    await waitFor('the paused replica to leave the ISR', async () => !(await partitionOn(leader, topic, 0)).isr.includes(stale!.nodeId), 20_000);
    // Acknowledged by the other two only: sequences 10..19 the stale replica never sees.
    await producer.send({ topic, messages: values('lost', 10) });

    await Promise.all([cluster.kill(leader.nodeId), cluster.kill(other!.nodeId)]);
    cluster.resume(stale!.nodeId);
    await waitFor('the stale replica to lead', async () => {
      try {
        return (await metadataFrom(stale!, topic, 0)).leader === stale!.nodeId;
      } catch {
        return false;
      }
    }, 30_000);

    const [first] = await producer.send({ topic, messages: values('after', 5) });
    expect(first).toMatchObject({ partition: 0, offset: 10 });
    const reset = warnings.filter((warning) => /lost this producer's sequence state/.test(warning.message));
    expect(reset).toHaveLength(1);
    expect(reset[0]!.object).toMatchObject({ topic, partition: 0, baseSequence: 20, error: 'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(reset[0]!.object.newProducerId).not.toBe(reset[0]!.object.producerId);
    // And the producer goes on under its new id.
    await producer.send({ topic, messages: values('later', 3) });

    const { records } = await consumerFetch(stale!, topic, 0, 0);
    expect(records.map((record) => record.value)).toEqual([...values('everyone', 10), ...values('after', 5), ...values('later', 3)].map((record) => record.value));
    await sluice.close();
  }, 180_000);
});
