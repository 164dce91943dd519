/**
 * The idempotent producer (the client's default) on a real cluster (etcd and three brokers as
 * processes, replication factor 3, min.insync.replicas 2) while the leader of a partition is
 * SIGKILLed ten times and the client's connections are reset under it: every acknowledged
 * record is there, none twice, in order per partition. The at-least-once producer
 * (cluster-failover.test.ts, before the client became idempotent) reported duplicates in the
 * same kind of run: its retries after a lost answer wrote batches again.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { AckRecorder, verifyHeaders, verifyTopic } from '../../bench/verify.js';
import { Sluice } from '../../client/sluice.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { leaders, waitForFullIsr } from '../helpers/cluster-checks.js';

afterAll(cleanupCluster);

const topic = 'exactly';
const partitions = 3;

/**
 * Resets this process's TCP connections to the given ports (`ss -K`, as a network fault would):
 * the client sees its requests in flight fail and reconnects; the brokers' own connections to
 * each other are left alone. Returns how many it reset.
 */
function resetClientConnections(ports: ReadonlySet<number>): number {
  const lines = execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' }).split('\n');
  let reset = 0;
  for (const line of lines) {
    if (!line.includes(`pid=${process.pid},`)) continue;
    const [local, peer] = line.trim().split(/\s+/).slice(2, 4);
    const localPort = Number(local?.split(':').at(-1));
    const peerPort = Number(peer?.split(':').at(-1));
    if (!ports.has(peerPort)) continue;
    // ss reports an RTNETLINK error on stderr even when the socket was killed.
    execFileSync('ss', ['-K', 'src', '127.0.0.1', 'sport', '=', String(localPort), 'dst', '127.0.0.1', 'dport', '=', String(peerPort)], { stdio: 'ignore' });
    reset += 1;
  }
  return reset;
}

describe('an idempotent producer on a three-broker cluster under SIGKILL', () => {
  it('neither loses nor duplicates nor reorders records over ten leader kills and connection resets', async () => {
    const cluster = await startCluster({ brokers: 3 });
    const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    const admin = sluice.admin();
    await admin.createTopic(topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, topic);
    const brokerPorts = new Set(cluster.brokers.map((broker) => broker.port));

    // The defaults: idempotent, acks=all, 5 batches in flight per partition.
    const producer = sluice.producer({ deliveryTimeoutMs: 90_000, lingerMs: 1 });
    const recorder = new AckRecorder('idem');
    let sequence = 0;
    let failures = 0;
    let firstFailure: unknown;
    let running = true;
    const inflight = new Set<Promise<void>>();
    const pump = (async () => {
      while (running) {
        // A few records per send, to every partition in turn, so batches of several records go out.
        const messages = [];
        const ids: Array<[number, number]> = [];
        for (let index = 0; index < 4; index += 1) {
          const partition = sequence % partitions;
          ids.push([sequence, partition]);
          messages.push({ value: `record ${sequence}`, headers: verifyHeaders('idem', sequence, partition), partition });
          sequence += 1;
        }
        const sending = producer.send({ topic, messages }).then(() => {
          for (const [id, partition] of ids) recorder.acknowledged(id, partition);
        }, (error: unknown) => {
          failures += 1;
          firstFailure ??= error;
        });
        inflight.add(sending);
        void sending.finally(() => inflight.delete(sending));
        if (inflight.size >= 64) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    })();

    let resets = 0;
    for (let round = 0; round < 10; round += 1) {
      const partition = round % partitions;
      const victim = (await leaders(admin, topic)).get(partition)!;
      const before = sequence;
      resets += resetClientConnections(brokerPorts);
      await cluster.kill(victim);
      // While the partition fails over, the client's connections to the survivors break too.
      await new Promise((resolve) => setTimeout(resolve, 300));
      resets += resetClientConnections(brokerPorts);
      const deadline = Date.now() + 30_000;
      while ((await leaders(admin, topic).catch(() => new Map<number, number>())).get(partition) === victim && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await cluster.start(victim);
      await waitForFullIsr(admin, topic, 60_000);
      resets += resetClientConnections(brokerPorts);
      expect(sequence, `round ${round}: the producer made no progress`).toBeGreaterThan(before);
    }
    running = false;
    await pump;
    await producer.close();

    const report = await verifyTopic(cluster.bootstrap, { runId: 'idem', topic, producers: [recorder.toJSON()] }, { timeoutMs: 60_000 });
    process.stdout.write(`idempotent kill rounds: ${sequence} records sent, ${report.totals.acknowledged} acknowledged, ${failures} sends failed, `
      + `${resets} connections reset, ${report.totals.missing} missing, ${report.totals.duplicated} duplicated, ${report.totals.outOfOrder} out of order\n`);
    if (firstFailure !== undefined) process.stdout.write(`first failed send: ${String((firstFailure as Error).message ?? firstFailure)}\n`);
    expect(report.totals.missing).toBe(0);
    expect(report.totals.duplicated).toBe(0);
    expect(report.totals.outOfOrder).toBe(0);
    expect(report.totals.misplaced).toBe(0);
    expect(report.totals.acknowledged).toBeGreaterThan(1000);
    expect(resets).toBeGreaterThan(10);
    await sluice.close();
  }, 600_000);
});
