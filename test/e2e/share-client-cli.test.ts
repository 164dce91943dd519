/**
 * Share groups through the client and the CLI against a real broker process: a classic
 * group's id is refused for a share group (QUEUES-ON-A-LOG.md §5, behaviour 1); `sluice groups
 * alter` and `groups describe` set, show and delete a group's configs; `sluice consume --share-group`
 * acknowledges what it prints and dead-letters what --reject-pattern matches; `sluice share
 * describe` counts both. A Kafka admin's DeleteGroups deletes an idle share group's state
 * and configs, and refuses one with members.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { SluiceError } from '../../proto/errors.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';
import { kafkajs } from '../helpers/kafka-clients.js';
import { ShareHarness } from '../helpers/share-e2e.js';

let broker: BrokerProcess;
let sluice: Sluice;
let share: ShareHarness;

beforeAll(async () => {
  broker = await startBroker();
  sluice = new Sluice({ bootstrap: broker.bootstrap, requestTimeoutMs: 10_000 });
  share = new ShareHarness(sluice);
});

afterAll(async () => {
  await sluice?.close();
  await cleanupBrokers();
});

describe('share groups: group protocol and the CLI', () => {
  it('a classic group\'s id is refused with INCONSISTENT_GROUP_PROTOCOL', async () => {
    await sluice.admin().createTopic('classic', { partitions: 1 });
    const classic = sluice.consumer({ groupId: 'taken', sessionTimeoutMs: 6000 });
    let assigned = false;
    classic.subscribe(['classic'], { onAssigned: () => { assigned = true; } });
    await waitFor('the classic member to join', () => assigned, 10_000);
    const member = share.consumer('taken');
    member.subscribe(['classic']);
    try {
      const error = await (async () => {
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) await member.poll({ timeoutMs: 200 });
        return undefined;
      })().catch((thrown: unknown) => thrown);
      expect(SluiceError.is(error) && error.code).toBe('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL');
    } finally {
      await Promise.all([member.close(), classic.close()]);
    }
  });


  it('DeleteGroups (a Kafka admin) deletes an idle share group, state and configs, and refuses one with members', async () => {
    await sluice.admin().createTopic('deleted-jobs', { partitions: 2 });
    await sluice.admin().alterGroupConfigs('to-delete', { 'share.auto.offset.reset': 'earliest', 'share.delivery.limit': '4' });
    await share.produce('deleted-jobs', [{ value: 'a' }, { value: 'b' }]);
    const member = share.consumer('to-delete');
    member.subscribe(['deleted-jobs']);
    let got = 0;
    const deadline = Date.now() + 10_000;
    while (got < 2 && Date.now() < deadline) for (const record of await member.poll({ timeoutMs: 200 })) { got += 1; await record.ack(); }
    expect(got).toBe(2);
    const admin = kafkajs(broker.kafkaBootstrap).kafka.admin();
    await admin.connect();
    try {
      const refused = await admin.deleteGroups(['to-delete']).then(() => undefined, (thrown: { groups?: Array<{ error: { type: string } }> }) => thrown.groups?.[0]?.error.type);
      expect(refused).toBe('NON_EMPTY_GROUP');
      await member.close();
      expect(await admin.deleteGroups(['to-delete'])).toEqual([{ groupId: 'to-delete', errorCode: 0 }]);
    } finally {
      await admin.disconnect();
    }
    expect((await sluice.admin().listGroups()).map((group) => group.groupId)).not.toContain('to-delete');
    expect((await sluice.admin().describeGroupConfigs('to-delete')).find((entry) => entry.name === 'share.delivery.limit')).toMatchObject({ value: '5', source: 'default' });
    // A new member starts afresh: at the log end (the default reset), with nothing acknowledged.
    expect((await sluice.admin().describeShareGroup('to-delete')).partitions).toEqual([]);
  });

  it('CLI: groups alter and describe show the configs, consume --share-group acknowledges and --reject-pattern dead-letters, share describe counts them', async () => {
    await sluice.admin().createTopic('cli-jobs', { partitions: 1 });
    const bootstrap = ['--bootstrap', broker.bootstrap];
    const altered = await runCli(['groups', 'alter', 'cli-workers', '--config', 'share.delivery.limit=3', '--config', 'share.dlq.topic=cli-dlq', '--config', 'share.auto.offset.reset=earliest', ...bootstrap]);
    expect(altered.code, altered.stderr).toBe(0);
    const described = await runCli(['groups', 'describe', 'cli-workers', ...bootstrap]);
    expect(described.stdout).toMatch(/share\.delivery\.limit\s+3\s+group/);
    expect(described.stdout).toMatch(/share\.record\.lock\.duration\.ms\s+30000\s+default/);
    await share.produce('cli-jobs', [{ value: 'ok-1' }, { value: 'poison-2' }, { value: 'ok-3' }]);
    const consumed = await runCli(['consume', 'cli-jobs', '--share-group', 'cli-workers', '--reject-pattern', '^poison', '--idle-ms', '1000', ...bootstrap]);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout).toBe('ok-1\npoison-2\nok-3\n');
    expect((await sluice.admin().listGroups()).find((group) => group.groupId === 'cli-workers')).toEqual({ groupId: 'cli-workers', state: 'Empty', members: 0, type: 'share' });
    expect((await runCli(['groups', 'list', ...bootstrap])).stdout).toMatch(/^cli-workers\tEmpty\t0 members\tshare$/m);
    const shareJson = await runCli(['share', 'describe', 'cli-workers', '--json', ...bootstrap]);
    const partition = (JSON.parse(shareJson.stdout) as { partitions: Array<{ acknowledged: number; deadLettered: number; deadLetteredByReason: Record<string, number>; startOffset: number }> }).partitions[0]!;
    expect([partition.acknowledged, partition.deadLettered, partition.deadLetteredByReason.rejected, partition.startOffset]).toEqual([2, 1, 1, 3]);
    const reset = await runCli(['groups', 'alter', 'cli-workers', '--delete-config', 'share.delivery.limit', ...bootstrap]);
    expect(reset.code, reset.stderr).toBe(0);
    expect((await sluice.admin().describeGroupConfigs('cli-workers')).find((entry) => entry.name === 'share.delivery.limit')).toEqual({ name: 'share.delivery.limit', value: '5', source: 'default' });
    expect((await runCli(['share', 'describe', 'cli-workers', ...bootstrap])).stdout).toMatch(/cli-jobs\s+0\s+3\s+3\s+0\s+0\s+0\s+2\s+1 \(rejected 1, delivery_limit 0, expired 0\)/);
  });
});
