/**
 * A real cluster (etcd and three brokers as processes, lease 2 s, replica.lag.time.max.ms 3 s)
 * under an acks=all producer (idempotent, the client's default) while brokers are SIGKILLed and
 * restarted: no acknowledged record is lost or stored twice, each partition keeps its order, and afterwards every replica holds the same bytes
 * up to the high watermark. Prints the failover times (leader SIGKILL → the next acks=all
 * produce to a partition it led succeeds).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AckRecorder, verifyHeaders, verifyTopic } from '../../bench/verify.js';
import { Sluice } from '../../client/sluice.js';
import { seededRandom } from '../helpers/random.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { leaders, replicaBatches, waitForFullIsr } from '../helpers/cluster-checks.js';

afterAll(cleanupCluster);

const topic = 'orders';
const partitions = 3;

describe('a three-broker cluster under SIGKILL', () => {
  it('loses no acknowledged record over ten kill-and-restart rounds, keeps order, and ends with identical replicas', async () => {
    const cluster = await startCluster({ brokers: 3 });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never });
    const admin = sluice.admin();
    await admin.createTopic(topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, topic);

    const producer = sluice.producer({ acks: 'all', deliveryTimeoutMs: 60_000, lingerMs: 1 });
    const recorder = new AckRecorder('p1');
    let sequence = 0;
    let failures = 0;
    let running = true;
    let kill: { at: number; led: Set<number>; failoverMs?: number } | undefined;
    const failovers: number[] = [];
    const inflight = new Set<Promise<void>>();
    const pump = (async () => {
      while (running) {
        const partition = sequence % partitions;
        const id = sequence;
        sequence += 1;
        const sentAt = Date.now();
        const sending = producer.send({ topic, messages: [{ value: `record ${id}`, headers: verifyHeaders('p1', id, partition), partition }] }).then(() => {
          recorder.acknowledged(id, partition);
          if (kill !== undefined && kill.failoverMs === undefined && sentAt >= kill.at && kill.led.has(partition)) kill.failoverMs = Date.now() - kill.at;
        }, () => { failures += 1; });
        inflight.add(sending);
        void sending.finally(() => inflight.delete(sending));
        if (inflight.size >= 32) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    })();

    const random = seededRandom(10);
    for (let round = 0; round < 10; round += 1) {
      const victim = 1 + Math.floor(random() * 3);
      const led = new Set([...(await leaders(admin, topic))].filter(([, leader]) => leader === victim).map(([partition]) => partition));
      const before = sequence;
      kill = { at: Date.now(), led };
      await cluster.kill(victim);
      // Wait for the partitions it led to take writes again, then bring it back.
      const deadline = Date.now() + 30_000;
      while (led.size > 0 && kill.failoverMs === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      if (led.size > 0) {
        expect(kill.failoverMs, `round ${round}: no acks=all produce succeeded on the partitions broker ${victim} led`).toBeDefined();
        failovers.push(kill.failoverMs!);
      }
      await cluster.start(victim);
      await waitForFullIsr(admin, topic);
      expect(sequence).toBeGreaterThan(before);
    }
    running = false;
    await pump;
    await producer.close();

    const report = await verifyTopic(cluster.bootstrap, { runId: 'p1', topic, producers: [recorder.toJSON()] }, { timeoutMs: 60_000 });
    process.stdout.write(`cluster kill rounds: ${sequence} records sent, ${report.totals.acknowledged} acknowledged, ${failures} failed, `
      + `${report.totals.duplicated} duplicated; failover ms ${failovers.join(', ')} (median ${[...failovers].sort((a, b) => a - b)[failovers.length >> 1]})\n`);
    expect(report.totals.missing).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    // The producer is idempotent (the default): a retried batch is not stored twice.
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.acknowledged).toBeGreaterThan(100);

    const ends = new Map((await admin.describeTopic(topic)).partitions.map((partition) => [partition.partition, partition.logEndOffset]));
    await sluice.close();
    for (const broker of cluster.brokers) await cluster.stop(broker.nodeId);
    for (let partition = 0; partition < partitions; partition += 1) {
      const copies = [...replicaBatches(cluster, topic, partition, ends.get(partition)!).values()];
      expect(copies[0]!.length).toBeGreaterThan(0);
      for (const copy of copies.slice(1)) expect(Buffer.concat(copy).equals(Buffer.concat(copies[0]!))).toBe(true);
    }
  }, 420_000);

  it('keeps acknowledging acks=all once a dead broker is fenced, without waiting out replica.lag.time.max.ms', async () => {
    // A 60 s lag time: only the controller fencing the dead broker (lease 2 s) can take it out of the ISR in time.
    const cluster = await startCluster({ brokers: 3, args: ['--replica-lag-time-max-ms', '60000'] });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never });
    const admin = sluice.admin();
    await admin.createTopic('fenced', { partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, 'fenced');
    const producer = sluice.producer({ acks: 'all', deliveryTimeoutMs: 30_000 });
    for (let partition = 0; partition < 3; partition += 1) await producer.send({ topic: 'fenced', messages: [{ value: 'before', partition }] });

    const killedAt = Date.now();
    await cluster.kill(3);
    await Promise.all([0, 1, 2].map((partition) => producer.send({ topic: 'fenced', messages: [{ value: 'after', partition }] })));
    const tookMs = Date.now() - killedAt;
    process.stdout.write(`acks=all on every partition again ${tookMs} ms after a broker was SIGKILLed (lag time 60 s)\n`);
    expect(tookMs).toBeLessThan(60_000);
    const description = await admin.describeTopic('fenced');
    for (const partition of description.partitions) expect(partition.isr).not.toContain(3);
    // The survivors never shrank an ISR themselves: the controller's fencing did it.
    for (const nodeId of [1, 2]) {
      const metrics = await (await fetch(`http://127.0.0.1:${cluster.broker(nodeId).process!.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^sluice_isr_shrinks_total 0$/m);
    }
    await producer.close();
    await sluice.close();
  }, 120_000);
});
