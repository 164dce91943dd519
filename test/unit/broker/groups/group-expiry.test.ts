/**
 * offsets.retention: a group with no members for the retention period is forgotten with its
 * committed offsets, written as tombstones in __consumer_offsets so a restart does not bring
 * them back; a group with members never expires; a group known only by its commits expires a
 * retention after its newest commit. The last test runs the broker's own timer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker } from '../../../../broker/broker.js';
import { GroupCoordinator } from '../../../../broker/groups/coordinator.js';
import { GroupExpiry } from '../../../../broker/groups/group-expiry.js';
import { OffsetStore, offsetsTopic } from '../../../../broker/groups/offset-store.js';
import { limits } from '../../../../broker/limits.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD } from '../../../../proto/record-batch/layout.js';
import { type DecodedRecord, decodeRecords } from '../../../../proto/record-batch/record-batch.js';
import { waitFor } from '../../../helpers/broker-process.js';

const logger = pino({ level: 'silent' });
const retentionMs = 60_000;
let directory: string;
let topics: TopicManager;
let offsets: OffsetStore;
let coordinator: GroupCoordinator;
let clock: number;

function open(): void {
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  offsets = new OffsetStore(topics);
}

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-expiry-'));
  clock = Date.now();
  coordinator = new GroupCoordinator({ initialRebalanceDelayMs: 1000, now: () => clock });
  open();
});
afterEach(() => {
  coordinator.close();
  topics.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

const expiry = () => new GroupExpiry(coordinator, () => offsets, { retentionMs, checkIntervalMs: 1000, logger });
const commit = (group: string, offset: number) => offsets.commit(group, [{ topic: 'orders', partition: 0, offset, metadata: '' }, { topic: 'orders', partition: 1, offset, metadata: '' }]);

/** A member joins (the group starts rebalancing), then the member id to make it leave with. */
function joinOne(groupId: string): string {
  coordinator.join({ groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }, 'client').catch(() => {});
  return coordinator.describe(groupId)!.members[0]!.memberId;
}

function offsetsLog(): DecodedRecord[] {
  const log = topics.get(offsetsTopic).partitions[0]!.log;
  const records: DecodedRecord[] = [];
  for (const slice of log.read(log.logStartOffset, 1 << 20).slices) {
    for (let position = 0; position < slice.length;) {
      const size = BATCH_LOG_OVERHEAD + slice.readInt32BE(position + BATCH_LENGTH_OFFSET);
      records.push(...decodeRecords(slice.subarray(position, position + size)));
      position += size;
    }
  }
  return records;
}

describe('group expiry', () => {
  it('forgets a group Empty for the retention period, with tombstones for its offsets that outlast a restart', async () => {
    await commit('billing', 7);
    await commit('audit', 3);
    coordinator.leave('billing', joinOne('billing'));
    expect(coordinator.describe('billing')!.state).toBe('Empty');
    const idleSince = Math.max(clock, offsets.newestCommit('billing')!);
    expect(await expiry().expire(idleSince + retentionMs - 1)).toEqual([]);
    expect(await expiry().expire(idleSince + retentionMs)).toEqual(['billing']);
    expect(coordinator.describe('billing')).toBeUndefined();
    expect(offsets.committed('billing')).toEqual([]);
    const tombstones = offsetsLog().filter((record) => record.value === null).map((record) => JSON.parse(record.key!.toString()) as unknown);
    expect(tombstones).toEqual([{ group: 'billing', topic: 'orders', partition: 0 }, { group: 'billing', topic: 'orders', partition: 1 }]);

    topics.close();
    open();
    expect(offsets.groups()).toEqual(['audit']);
    expect(offsets.committed('billing')).toEqual([]);
  });

  it('never expires a group with members, however old its commits', async () => {
    await commit('live', 1);
    joinOne('live');
    expect(await expiry().expire(Date.now() + 100 * retentionMs)).toEqual([]);
    expect(offsets.committed('live')).toHaveLength(2);
    expect(coordinator.describe('live')!.state).toBe('PreparingRebalance');
  });

  it('expires a group known only by its commits a retention after its newest commit', async () => {
    await commit('standalone', 1);
    const first = offsets.newestCommit('standalone')!;
    await waitFor('the clock to move on', () => Date.now() > first + 1, 1000);
    await commit('standalone', 2);
    const newest = offsets.newestCommit('standalone')!;
    expect(newest).toBeGreaterThan(first);
    expect(await expiry().expire(first + retentionMs)).toEqual([]);
    expect(await expiry().expire(newest + retentionMs)).toEqual(['standalone']);
    expect(offsets.groups()).toEqual([]);
  });

  it('counts an Empty group from when it emptied, not from its last commit', async () => {
    await commit('slow', 1);
    clock = offsets.newestCommit('slow')! + 10 * retentionMs;
    coordinator.leave('slow', joinOne('slow'));
    expect(await expiry().expire(clock + retentionMs - 1)).toEqual([]);
    expect(await expiry().expire(clock + retentionMs)).toEqual(['slow']);
  });

  it('refuses a retention or check interval that is not a usable number of milliseconds', () => {
    expect(() => new GroupExpiry(coordinator, () => offsets, { retentionMs: 0, checkIntervalMs: 1000, logger })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
    expect(() => new GroupExpiry(coordinator, () => offsets, { retentionMs, checkIntervalMs: 2 ** 31, logger })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
  });

  it('runs on the broker\'s timer with the offsetsRetentionMs option', async () => {
    const dataDirectory = path.join(directory, 'broker');
    const broker = new Broker({
      dataDirectory, host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: -1, autoCreateTopics: false, defaultPartitions: 1,
      logDefaults: {}, frameBytesMax: limits.frameBytesMax, idleTimeoutMs: limits.idleTimeoutMs, groupInitialRebalanceDelayMs: 100,
      offsetsRetentionMs: 200, offsetsRetentionCheckIntervalMs: 20, logger,
    });
    await broker.start();
    try {
      await broker.offsets!.commit('short-lived', [{ topic: 'orders', partition: 0, offset: 1, metadata: '' }]);
      expect(broker.offsets!.groups()).toEqual(['short-lived']);
      await waitFor('the idle group to expire', () => broker.offsets!.groups().length === 0, 5000);
    } finally {
      await broker.stop();
    }
  });
});
