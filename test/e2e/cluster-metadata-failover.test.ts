/**
 * The controller at work against a real etcd: a broker whose lease expires loses its
 * leaderships to in-sync replicas (never others, unless the topic allows unclean election),
 * leaderless partitions come back with their ISR member, controlled shutdown hands leadership
 * over, preferred leaders return on demand and by themselves, and the controller role moves
 * when the controller's session dies, with the old one unable to write.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControllerWrites } from '../../broker/cluster/controller-writes.js';
import { createEtcdClient } from '../../broker/cluster/etcd-client.js';
import { ClusterKeys } from '../../broker/cluster/keys.js';
import type { IsrProposal, PartitionState } from '../../broker/cluster/partition-state.js';
import type { ControllerSettings } from '../../broker/cluster/controller.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupEtcd, cleanupEtcdLinks, type EtcdCluster, startTestEtcd } from '../helpers/etcd.js';
import { closeTestBrokers, newClusterName, sessionTimeoutMs, startTestBroker, type TestBroker, waitForState } from './cluster-metadata-harness.js';

const memberEntry = path.resolve('dist/test/e2e/fixtures/cluster-member.js');
let etcd: EtcdCluster;

beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterEach(async () => {
  await closeTestBrokers();
  await cleanupEtcdLinks();
});
afterAll(cleanupEtcd);

async function startBrokers(ids: number[], controller: Partial<ControllerSettings> = {}): Promise<{ brokers: TestBroker[]; cluster: string }> {
  const cluster = newClusterName();
  const brokers: TestBroker[] = [];
  for (const id of ids) brokers.push(await startTestBroker(etcd, cluster, id, controller));
  await waitFor('brokers see each other, first is controller', () => brokers.every((b) => b.metadata.brokers.size === ids.length && b.metadata.controllerId === ids[0]) && brokers[0]!.metadata.isController);
  return { brokers, cluster };
}

function byId(brokers: TestBroker[], id: number): TestBroker {
  return brokers.find((b) => b.nodeId === id)!;
}

async function setIsr(brokers: TestBroker[], state: PartitionState, isr: number[]): Promise<PartitionState> {
  const brokerEpochs: Record<number, number> = {};
  for (const id of isr) brokerEpochs[id] = byId(brokers, id).metadata.brokerEpoch;
  const request: IsrProposal = { topic: state.topic, partition: state.partition, leaderId: state.leader, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, isr, brokerEpochs };
  const outcome = await byId(brokers, state.leader).metadata.alterPartition(request);
  if (outcome.kind !== 'committed') throw new Error(`ISR change refused: ${JSON.stringify(outcome)}`);
  const live = brokers.filter((b) => b.metadata.storeAvailable);
  return await waitForState(live, state.topic, state.partition, 'the ISR change', (s) => s.partitionEpoch === outcome.state.partitionEpoch);
}

describe('controller', () => {
  it('elects new leaders from the ISR with bumped epochs when a broker\'s lease expires, and takes it out of every ISR', async () => {
    const { brokers } = await startBrokers([1, 2, 3]);
    await brokers[0]!.metadata.createTopic({ name: 't', partitions: 3, replicationFactor: 3, placement: { startIndex: 0, replicaShift: 0 } });
    // p0 [1,2,3], p1 [2,3,1], p2 [3,1,2]. p1's ISR without 3: its next leader must be 1, not 3.
    await waitForState(brokers, 't', 2, 'states', () => true);
    const p1 = await setIsr(brokers, brokers[0]!.metadata.partitionState('t', 1)!, [2, 1]);
    const survivors = [byId(brokers, 1), byId(brokers, 3)];
    const oldEpoch = byId(brokers, 2).metadata.brokerEpoch;
    const cutAt = performance.now();
    await byId(brokers, 2).cut();
    const after = await waitForState(survivors, 't', 1, 'a new leader for p1', (s) => s.leader !== 2, 10_000);
    const electionMs = performance.now() - cutAt;
    expect(after).toMatchObject({ leader: 1, isr: [1], leaderEpoch: p1.leaderEpoch + 1, partitionEpoch: p1.partitionEpoch + 1 });
    const p0 = await waitForState(survivors, 't', 0, 'p0 without 2', (s) => !s.isr.includes(2));
    expect(p0).toMatchObject({ leader: 1, isr: [1, 3], leaderEpoch: 0, partitionEpoch: 1 });
    expect(await waitForState(survivors, 't', 2, 'p2 without 2', (s) => !s.isr.includes(2))).toMatchObject({ leader: 3, isr: [3, 1], leaderEpoch: 0 });
    process.stdout.write(`new leader elected ${electionMs.toFixed(0)} ms after the leader was cut off from etcd (session timeout ${sessionTimeoutMs} ms)\n`);
    expect(byId(brokers, 3).metadata.describeCluster().brokers.find((b) => b.nodeId === 2)).toMatchObject({ alive: false, host: '127.0.0.1', port: 9002, leaderCount: 0 });

    // Back again: a new registration with a new epoch, in no ISR until a leader adds it.
    const epochs: number[] = [];
    byId(brokers, 2).metadata.on('brokerEpoch', (epoch) => epochs.push(epoch));
    await byId(brokers, 2).restore();
    await waitFor('broker 2 registered again', () => survivors.every((b) => b.metadata.brokers.get(2)?.brokerEpoch === byId(brokers, 2).metadata.brokerEpoch) && epochs.length === 1, 15_000);
    expect(epochs[0]).toBeGreaterThan(oldEpoch);
    expect(byId(brokers, 2).metadata.brokerEpoch).toBe(epochs[0]);
  });

  it('leaves a partition offline when its whole ISR is gone, unless the topic allows unclean election; the ISR member leads again when it returns', async () => {
    const { brokers } = await startBrokers([1, 2, 3]);
    const placement = { startIndex: 1, replicaShift: 0 }; // replicas [2,3,1]
    await brokers[0]!.metadata.createTopic({ name: 'clean', partitions: 1, replicationFactor: 3, placement });
    await brokers[0]!.metadata.createTopic({ name: 'dirty', partitions: 1, replicationFactor: 3, placement, configs: { 'unclean.leader.election.enable': 'true' } });
    await brokers[0]!.metadata.createTopic({ name: 'manual', partitions: 1, replicationFactor: 3, placement });
    const clean = await setIsr(brokers, await waitForState(brokers, 'clean', 0, 'clean', () => true), [2]);
    await setIsr(brokers, await waitForState(brokers, 'dirty', 0, 'dirty', () => true), [2]);
    await setIsr(brokers, await waitForState(brokers, 'manual', 0, 'manual', () => true), [2]);
    const survivors = [byId(brokers, 1), byId(brokers, 3)];
    await byId(brokers, 2).cut();
    const offline = await waitForState(survivors, 'clean', 0, 'clean offline', (s) => s.leader === -1);
    expect(offline).toMatchObject({ leader: -1, isr: [2], leaderEpoch: clean.leaderEpoch + 1 });
    const stale = await waitForState(survivors, 'dirty', 0, 'dirty led by a stale replica', (s) => s.leader !== 2);
    expect(stale).toMatchObject({ leader: 3, isr: [3], leaderRecoveryState: 'recovering' });
    expect(byId(brokers, 1).metadata.partitionState('clean', 0)!.leader).toBe(-1);
    // An operator may force it (ElectLeaders type 1, unclean) for one partition.
    await waitForState(survivors, 'manual', 0, 'manual offline', (s) => s.leader === -1);
    expect(await byId(brokers, 1).metadata.electLeaders(1, [{ topic: 'manual', partition: 0 }])).toMatchObject([{ code: null }]);
    expect(await waitForState(survivors, 'manual', 0, 'manual led by a stale replica', (s) => s.leader !== -1)).toMatchObject({ leader: 3, isr: [3], leaderRecoveryState: 'recovering' });

    await byId(brokers, 2).restore();
    const back = await waitForState(brokers, 'clean', 0, 'clean led by its ISR member again', (s) => s.leader === 2, 15_000);
    expect(back).toMatchObject({ leader: 2, isr: [2], leaderEpoch: offline.leaderEpoch + 1 });
  });

  it('controlled shutdown moves leaderships to other ISR members and takes the broker out of every ISR', async () => {
    const { brokers } = await startBrokers([1, 2, 3]);
    await brokers[0]!.metadata.createTopic({ name: 't', partitions: 6, replicationFactor: 2, placement: { startIndex: 0, replicaShift: 0 } });
    await brokers[0]!.metadata.createTopic({ name: 'solo', partitions: 1, replicationFactor: 1, placement: { startIndex: 1, replicaShift: 0 } });
    await waitForState(brokers, 't', 5, 'states', () => true);
    await waitForState(brokers, 'solo', 0, 'solo on 2', (s) => s.leader === 2);
    expect(brokers[1]!.metadata.partitionStates().filter((s) => s.leader === 2).length).toBe(3);
    const started = performance.now();
    expect(await byId(brokers, 2).metadata.controlledShutdown(10_000)).toBe(true);
    const handoverMs = performance.now() - started;
    for (const b of brokers) {
      await waitFor('broker 2 in no ISR of t and leading nothing', () => b.metadata.partitionStates().every((s) => s.leader !== 2 && (s.topic === 'solo' || !s.isr.includes(2))));
    }
    expect(brokers[0]!.metadata.partitionStates().filter((s) => s.topic === 't').every((s) => s.leader !== -1)).toBe(true);
    // Its only replica shutting down, a partition goes offline, as in Kafka; the ISR keeps it.
    expect(brokers[0]!.metadata.partitionState('solo', 0)).toMatchObject({ leader: -1, isr: [2] });
    expect(brokers[0]!.metadata.describeCluster().brokers.find((b) => b.nodeId === 2)).toMatchObject({ alive: true, shuttingDown: true, leaderCount: 0 });
    process.stdout.write(`controlled shutdown handed over 3 leaderships in ${handoverMs.toFixed(0)} ms\n`);
    const p = byId(brokers, 2).metadata.partitionStates().find((s) => s.replicas.includes(2))!;
    const request: IsrProposal = { topic: p.topic, partition: p.partition, leaderId: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: [...p.isr, 2], brokerEpochs: {} };
    expect(await byId(brokers, p.leader).metadata.alterPartition(request)).toMatchObject({ kind: 'rejected', code: 'SLUICE_ERR_INELIGIBLE_REPLICA' });
  });

  it('elects preferred leaders on demand (ElectLeaders) with Kafka\'s per-partition answers', async () => {
    const { brokers } = await startBrokers([1, 2, 3], { autoLeaderRebalance: false });
    const controller = brokers[0]!.metadata;
    await controller.createTopic({ name: 't', partitions: 3, replicationFactor: 3, placement: { startIndex: 0, replicaShift: 0 } });
    await waitForState(brokers, 't', 2, 'states', () => true);
    await byId(brokers, 2).cut();
    const survivors = [byId(brokers, 1), byId(brokers, 3)];
    await waitForState(survivors, 't', 1, 'p1 moved away from 2', (s) => s.leader === 3);
    await byId(brokers, 2).restore();
    await waitFor('2 registered again', () => controller.brokers.get(2)?.brokerEpoch === byId(brokers, 2).metadata.brokerEpoch, 15_000);
    expect(await controller.electLeaders(0, [{ topic: 't', partition: 1 }])).toMatchObject([{ code: 'SLUICE_ERR_PREFERRED_LEADER_NOT_AVAILABLE' }]);
    await setIsr(brokers, controller.partitionState('t', 1)!, [3, 1, 2]);
    await expect(brokers[1]!.metadata.electLeaders(0)).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_CONTROLLER' });
    const results = await controller.electLeaders(0, [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }, { topic: 'nope', partition: 0 }]);
    expect(results.map((r) => r.code)).toEqual(['SLUICE_ERR_ELECTION_NOT_NEEDED', null, 'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION']);
    expect(await waitForState(brokers, 't', 1, 'p1 back on 2', (s) => s.leader === 2)).toMatchObject({ leader: 2, isr: [3, 1, 2] });
    expect(await controller.electLeaders(0)).toEqual([]);
    expect(await controller.electLeaders(1, [{ topic: 't', partition: 0 }])).toMatchObject([{ code: 'SLUICE_ERR_ELECTION_NOT_NEEDED' }]);
  });

  it('moves leadership back to the preferred replica by itself after the imbalance check interval', async () => {
    const { brokers } = await startBrokers([1, 2, 3], { autoLeaderRebalance: true, leaderImbalanceCheckIntervalMs: 500 });
    const controller = brokers[0]!.metadata;
    await controller.createTopic({ name: 't', partitions: 3, replicationFactor: 3, placement: { startIndex: 0, replicaShift: 0 } });
    await waitForState(brokers, 't', 2, 'states', () => true);
    await byId(brokers, 2).cut();
    await waitForState([byId(brokers, 1), byId(brokers, 3)], 't', 1, 'p1 moved away from 2', (s) => s.leader === 3);
    await byId(brokers, 2).restore();
    await waitFor('2 registered again', () => controller.brokers.get(2)?.brokerEpoch === byId(brokers, 2).metadata.brokerEpoch, 15_000);
    await setIsr(brokers, controller.partitionState('t', 1)!, [3, 1, 2]);
    const back = await waitForState(brokers, 't', 1, 'p1 back on its preferred replica', (s) => s.leader === 2, 5_000);
    expect(back.isr).toEqual([3, 1, 2]);
  });

  it('moves the controller role when the controller\'s session dies; the new one goes on', async () => {
    const { brokers } = await startBrokers([1, 2, 3]);
    await brokers[0]!.metadata.createTopic({ name: 't', partitions: 3, replicationFactor: 3, placement: { startIndex: 0, replicaShift: 0 } });
    await waitForState(brokers, 't', 2, 'states', () => true);
    const oldEpoch = brokers[1]!.metadata.controllerEpoch;
    const cutAt = performance.now();
    await byId(brokers, 1).cut();
    const survivors = [byId(brokers, 2), byId(brokers, 3)];
    await waitFor('broker 2 takes over as controller', () => byId(brokers, 2).metadata.isController && survivors.every((b) => b.metadata.controllerId === 2), 10_000);
    const takeoverMs = performance.now() - cutAt;
    expect(byId(brokers, 3).metadata.controllerEpoch).toBeGreaterThan(oldEpoch);
    // It goes on: the old controller's leaderships move, and topics are made by the new one.
    expect(await waitForState(survivors, 't', 0, 'p0 led by 2', (s) => s.leader === 2)).toMatchObject({ isr: [2, 3], leaderEpoch: 1 });
    await byId(brokers, 2).metadata.createTopic({ name: 'u', partitions: 1, replicationFactor: 2 });
    await waitForState(survivors, 'u', 0, 'u created', () => true);
    process.stdout.write(`controller failover: broker 2 controls ${takeoverMs.toFixed(0)} ms after broker 1 was cut off from etcd (session ${sessionTimeoutMs} ms)\n`);
  });

  it('refuses every write of an old controller whose session expired while it was cut off, though it still believes it controls', async () => {
    const { brokers, cluster } = await startBrokers([1, 2]);
    const keys = new ClusterKeys(cluster);
    const client = createEtcdClient(etcd.endpoints, 1_000);
    try {
      const candidates = await client.getAll().prefix(keys.election).sort('Create', 'Ascend').exec();
      const fence = { key: candidates.kvs[0]!.key.toString(), revision: candidates.kvs[0]!.create_revision };
      expect(candidates.kvs[0]!.value.toString()).toBe('1');
      await brokers[0]!.metadata.createTopic({ name: 't', partitions: 1, replicationFactor: 2, placement: { startIndex: 0, replicaShift: 0 } });
      const before = await waitForState(brokers, 't', 0, 't', () => true);

      await brokers[0]!.cut();
      await waitFor('broker 2 is the controller', () => brokers[1]!.metadata.isController, 10_000);
      expect(brokers[0]!.metadata.isController).toBe(true); // it cannot know yet

      // The old controller's own fenced writer, with the election key it won with.
      const stale = new ControllerWrites(client, keys, fence);
      const current = (await client.get(keys.partitionState('t', 0)).exec()).kvs[0]!;
      await expect(stale.writePartition({ ...before, leader: 1, isr: [1], leaderEpoch: 99, partitionEpoch: 99 }, current.mod_revision)).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_CONTROLLER' });
      await expect(stale.createTopic({ name: 'v', topicId: 'x', partitions: 1, replicationFactor: 1, configs: {} }, [])).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_CONTROLLER' });
      await expect(stale.deleteTopic('t')).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_CONTROLLER' });
      expect((await client.get(keys.partitionState('t', 0)).exec()).kvs[0]!.mod_revision).not.toBe('0');
      expect((await client.get(keys.topic('v')).exec()).kvs).toHaveLength(0);

      // Back on the network, broker 1's own calls are refused too, and it steps down.
      await brokers[0]!.restore();
      let created = false;
      await waitFor('broker 1 refused as controller', async () => {
        try {
          await brokers[0]!.metadata.createTopic({ name: 'w', partitions: 1 });
          created = true;
          return true;
        } catch (error) {
          // METADATA_STORE while its etcd connection comes back; then NOT_CONTROLLER.
          return (error as { code?: string }).code === 'SLUICE_ERR_NOT_CONTROLLER';
        }
      }, 15_000);
      expect(created).toBe(false);
      await waitFor('broker 1 sees broker 2 as controller', () => !brokers[0]!.metadata.isController && brokers[0]!.metadata.controllerId === 2, 15_000);
      expect((await client.get(keys.topic('w')).exec()).kvs).toHaveLength(0);
    } finally {
      client.close();
    }
  });
});

describe('a frozen controller', () => {
  it('cannot write when it wakes after its session expired, though it still believes it is the controller', async () => {
    const cluster = newClusterName();
    const child = spawn(process.execPath, [memberEntry, JSON.stringify({ endpoints: etcd.endpoints, clusterName: cluster, nodeId: 1 })], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: Array<Record<string, unknown>> = [];
    readline.createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor('child broker 1 ready', () => lines.some((l) => l['event'] === 'ready'));
      const two = await startTestBroker(etcd, cluster, 2);
      await waitFor('child broker 1 is the controller', () => two.metadata.controllerId === 1 && lines.some((l) => l['event'] === 'controllerRole' && l['active'] === true));
      child.stdin!.write(`${JSON.stringify({ op: 'freezeThenCreateTopic', freezeMs: 4 * sessionTimeoutMs, name: 'from-the-frozen' })}\n`);
      await waitFor('broker 2 takes over while 1 is frozen', () => two.metadata.isController, 3 * sessionTimeoutMs);
      await waitFor('the frozen broker wakes and tries to write', () => lines.some((l) => l['event'] === 'refused' || l['event'] === 'created'), 6 * sessionTimeoutMs);
      const answer = lines.find((l) => l['event'] === 'refused' || l['event'] === 'created')!;
      // It still believed it controlled: the refusal came from etcd's check of its election key.
      expect(answer).toMatchObject({ event: 'refused', believedController: true, code: 'SLUICE_ERR_NOT_CONTROLLER' });
      expect(answer['message']).toContain('no longer the elected one');
      expect(two.metadata.topic('from-the-frozen')).toBeUndefined();
      await two.metadata.createTopic({ name: 'from-the-new', partitions: 1 });
      await waitFor('the new controller\'s topic is visible', () => two.metadata.topic('from-the-new') !== undefined);
      expect(two.metadata.topic('from-the-frozen')).toBeUndefined();
      child.stdin!.write(`${JSON.stringify({ op: 'close' })}\n`);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
