/**
 * The cluster side of the `sluice` command, run as a child process (test/helpers/cli.ts)
 * against fake brokers that form a cluster: --bootstrap takes a list whose first broker is
 * down; `topics create` passes the replication factor and configs to the controller;
 * `topics describe` shows each partition's leader, epoch, replicas, ISR and offline replicas;
 * `cluster brokers` lists the brokers; `cluster elect-leaders --preferred` asks the controller.
 * (`sluice cluster` needs its registration in cli/main.ts: clusterCommand(program).)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Api, ElectionType } from '../../proto/messages.js';
import { runCli } from '../helpers/cli.js';
import { FakeCluster } from '../helpers/fake-broker.js';
import { freePort } from '../../bench/etcd-process.js';

const open: FakeCluster[] = [];
afterEach(async () => {
  for (const cluster of open.splice(0)) await cluster.close();
});

async function fakeCluster(topics: Record<string, number> = {}): Promise<FakeCluster> {
  const cluster = await FakeCluster.start({ brokers: 3, topics });
  open.push(cluster);
  return cluster;
}

/** A port nothing listens on. */
const deadAddress = async (): Promise<string> => `127.0.0.1:${await freePort()}`;

describe('sluice topics in a cluster', () => {
  it('creates a topic with --replication-factor and --config on the controller, from a bootstrap list whose first broker is down', async () => {
    const cluster = await fakeCluster();
    cluster.controllerId = 2;
    const bootstrap = `${await deadAddress()},${cluster.node(0).bootstrap}`;
    const result = await runCli(['topics', 'create', 'orders', '--partitions', '3', '--replication-factor', '3', '--config', 'min.insync.replicas=2', '--bootstrap', bootstrap]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('created topic orders with 3 partitions, replication factor 3\n');
    expect(result.code).toBe(0);
    expect(cluster.created).toEqual([{ name: 'orders', partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
    expect(cluster.seen(Api.CREATE_TOPICS).map((request) => request.nodeId)).toEqual([2]);
  });

  it('describes partitions with leader, epoch, replicas, isr and offline replicas', async () => {
    const cluster = await fakeCluster({ orders: 3 });
    cluster.moveLeader('orders', 1, 2);
    cluster.partition('orders', 1).isr = [2, 0];
    cluster.partition('orders', 1).offlineReplicas = [1];
    cluster.moveLeader('orders', 2, -1);
    cluster.partition('orders', 2).isr = [];
    const result = await runCli(['topics', 'describe', 'orders', '--bootstrap', cluster.bootstrap]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe([
      'topic orders: 3 partitions',
      'partition  leader  epoch  replicas  isr    offline  start-offset  end-offset',
      '0          0       0      0,1,2     0,1,2  -        0             0',
      '1          2       1      1,2,0     2,0    1        0             0',
      '2          none    1      2,0,1     -      -        -1            -1',
      '',
    ].join('\n'));
    const json = await runCli(['topics', 'describe', 'orders', '--json', '--bootstrap', cluster.bootstrap]);
    expect(JSON.parse(json.stdout).partitions[1]).toEqual({ partition: 1, leader: 2, leaderEpoch: 1, replicas: [1, 2, 0], isr: [2, 0], offlineReplicas: [1], logStartOffset: 0, logEndOffset: 0, lastStableOffset: 0 });
  });
});

describe('sluice cluster', () => {
  it('lists brokers with address, rack, alive, controller and leader count', async () => {
    const cluster = await fakeCluster({ orders: 3 });
    cluster.controllerId = 1;
    cluster.moveLeader('orders', 2, 0);
    const result = await runCli(['cluster', 'brokers', '--bootstrap', cluster.bootstrap]);
    expect(result.stderr).toBe('');
    const port = (id: number) => cluster.node(id).port;
    const lines = result.stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
    expect(lines).toEqual([
      ['id', 'address', 'rack', 'alive', 'controller', 'leaders'],
      ['0', `127.0.0.1:${port(0)}`, 'rack-0', 'yes', '2'],
      ['1', `127.0.0.1:${port(1)}`, 'rack-1', 'yes', 'yes', '1'],
      ['2', `127.0.0.1:${port(2)}`, 'rack-2', 'yes', '0'],
    ]);
    const json = JSON.parse((await runCli(['cluster', 'brokers', '--json', '--bootstrap', cluster.bootstrap])).stdout);
    expect(json.controllerId).toBe(1);
    expect(json.brokers[1]).toMatchObject({ nodeId: 1, controller: true, alive: true, leaderCount: 1 });
  });

  it('elects preferred leaders on the controller, for one partition or all', async () => {
    const cluster = await fakeCluster({ orders: 3 });
    cluster.controllerId = 2;
    cluster.moveLeader('orders', 1, 0);
    const one = await runCli(['cluster', 'elect-leaders', '--preferred', '--topic', 'orders', '--partition', '1', '--bootstrap', cluster.bootstrap]);
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('1 elected, 0 not needed, 0 failed');
    expect(cluster.elections[0]).toEqual({ electionType: ElectionType.PREFERRED, topics: [{ name: 'orders', partitions: [1] }] });
    expect(cluster.seen(Api.ELECT_LEADERS).map((request) => request.nodeId)).toEqual([2]);
    expect(cluster.partition('orders', 1).leader).toBe(1);
    const all = await runCli(['cluster', 'elect-leaders', '--preferred', '--bootstrap', cluster.bootstrap]);
    expect(all.stdout).toContain('0 elected, 3 not needed, 0 failed');
    expect(cluster.elections[1]).toEqual({ electionType: ElectionType.PREFERRED, topics: [] });
  });

  it('refuses elect-leaders without --preferred or --unclean, and --partition without --topic', async () => {
    const cluster = await fakeCluster({ orders: 1 });
    const neither = await runCli(['cluster', 'elect-leaders', '--bootstrap', cluster.bootstrap]);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toContain('exactly one of --preferred or --unclean');
    const partitionOnly = await runCli(['cluster', 'elect-leaders', '--preferred', '--partition', '0', '--bootstrap', cluster.bootstrap]);
    expect(partitionOnly.code).toBe(1);
    expect(partitionOnly.stderr).toContain('--partition needs --topic');
    expect(cluster.seen(Api.ELECT_LEADERS)).toEqual([]);
  });
});

describe('sluice bench against a cluster', () => {
  it('creates its topic with --replication-factor and --topic-config, produces to each leader, and verifies from each leader', async () => {
    const cluster = await fakeCluster();
    cluster.controllerId = 1;
    const result = await runCli(['bench', 'produce', '--bootstrap', cluster.bootstrap, '--topic', 'load', '--partitions', '3', '--replication-factor', '3',
      '--topic-config', 'min.insync.replicas=2', '--records', '3000', '--acks', 'all', '--verify', '--quiet'], { timeoutMs: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(cluster.created).toEqual([{ name: 'load', partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
    expect(result.stdout).toContain('total: 3000 acknowledged, 0 missing, 0 duplicated, 0 out of order, 0 misplaced');
    expect(cluster.produces.every((produce) => produce.nodeId === cluster.partition('load', produce.partition).leader)).toBe(true);
    expect(new Set(cluster.seen(Api.FETCH).map((request) => request.nodeId))).toEqual(new Set([0, 1, 2]));
  });
});

describe('--bootstrap lists in the data commands', () => {
  it('produces and consumes through a list whose first broker is down, each partition on its leader', async () => {
    const cluster = await fakeCluster({ orders: 3 });
    const bootstrap = `${await deadAddress()},${cluster.node(2).bootstrap}`;
    const produced = await runCli(['produce', 'orders', '--key-separator', ':', '--bootstrap', bootstrap], { input: 'a:1\nb:2\nc:3\nd:4\n' });
    expect(produced.code).toBe(0);
    expect(cluster.produces.every((produce) => produce.nodeId === cluster.partition('orders', produce.partition).leader)).toBe(true);
    const consumed = await runCli(['consume', 'orders', '--offset', 'earliest', '--max-messages', '4', '--bootstrap', bootstrap]);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.trim().split('\n').sort()).toEqual(['1', '2', '3', '4']);
  });
});

describe('sluice transactions', () => {
  it('lists every coordinator\'s transactional ids and describes one at its coordinator, as tables', async () => {
    const cluster = await fakeCluster({ orders: 2 });
    cluster.coordinatorId = 1;
    cluster.transactionalIds.set('importer', { producerId: 1000, producerEpoch: 3, open: { partitions: ['orders/1', 'orders/0'], groups: [], offsets: [] } });
    const listed = await runCli(['transactions', 'list', '--bootstrap', cluster.bootstrap]);
    expect(listed.stderr).toBe('');
    expect(listed.stdout).toBe('TRANSACTIONAL ID  STATE    PRODUCER ID  COORDINATOR\nimporter          Ongoing  1000         1\n');
    const described = await runCli(['transactions', 'describe', 'importer', 'missing', '--bootstrap', cluster.bootstrap]);
    const [header, importer, ...rest] = described.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^TRANSACTIONAL ID\s+STATE\s+PRODUCER ID\s+EPOCH\s+TIMEOUT MS\s+STARTED\s+COORDINATOR\s+PARTITIONS$/);
    expect(importer!.split(/\s{2,}/)).toEqual(['importer', 'Ongoing', '1000', '3', '60000', '2023-11-14T22:13:20.000Z', '1', 'orders/1 orders/0']);
    expect(rest).toEqual([]);
    expect(described.stderr).toMatch(/^sluice: missing: .*\[SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND\]\n$/);
    // An id the coordinator does not know makes the command fail, after printing what it found.
    expect(described.code).toBe(1);
    expect(cluster.seen(Api.DESCRIBE_TRANSACTIONS).every((request) => request.nodeId === 1)).toBe(true);
  });
});
