/**
 * A single broker's topics change while they run: CreatePartitions grows a topic (never shrinks
 * it, and a validate-only request changes nothing), IncrementalAlterConfigs puts new settings in
 * force on the open logs and refuses those a running log cannot take, and topics made before
 * topics had ids get one at the next start. Every change is in the topic's record, so a restart
 * finds it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { TopicStore } from '../../../../broker/topics/topic-store.js';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';

const batchOf = (value: string) => buildRecordBatch([{ key: null, value: Buffer.from(value) }]);

let directory: string;
let manager: TopicManager;
const open = () => {
  manager = new TopicManager(directory, {}, () => {});
  manager.open();
  return manager;
};
beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-topic-changes-'));
  open();
});
afterEach(() => {
  manager.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

describe('changing a topic on a single broker', () => {
  it('adds partitions that take appends at once and are there after a restart; never fewer', () => {
    manager.create('orders', 2, {});
    manager.addPartitions('orders', 3, true);
    expect(manager.get('orders').partitions).toHaveLength(2);
    manager.addPartitions('orders', 4);
    expect(manager.get('orders').record.partitions).toBe(4);
    expect(manager.partition('orders', 3).log.append(batchOf('new')).baseOffset).toBe(0);
    expect(() => manager.addPartitions('orders', 4)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_PARTITIONS' }));
    expect(() => manager.addPartitions('orders', 2)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_PARTITIONS' }));
    manager.close();
    open();
    expect(manager.get('orders').partitions.map((partition) => partition.index)).toEqual([0, 1, 2, 3]);
    expect(manager.partition('orders', 3).log.logEndOffset).toBe(1);
  });

  it('puts changed configs in force on the open logs, refuses what needs a restart, and keeps them', () => {
    manager.create('tuned', 2, { 'retention.ms': '1000' });
    const log = manager.partition('tuned', 1).log;
    manager.alterConfigs('tuned', { 'retention.ms': '60000', 'max.message.bytes': '2048' });
    expect(log.config.retentionMs).toBe(60_000);
    expect(log.config.maxMessageBytes).toBe(2048);
    expect(() => log.append(batchOf('x'.repeat(4000)))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_MESSAGE_TOO_LARGE' }));
    expect(() => manager.alterConfigs('tuned', { 'segment.bytes': '1048576' })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
    expect(() => manager.alterConfigs('tuned', { 'retention.ms': 'soon' })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
    manager.alterConfigs('tuned', { 'retention.ms': '5' }, true);
    expect(log.config.retentionMs).toBe(60_000);
    manager.close();
    open();
    expect(manager.get('tuned').record.configs).toEqual({ 'retention.ms': '60000', 'max.message.bytes': '2048' });
    expect(manager.partition('tuned', 0).log.config.maxMessageBytes).toBe(2048);
  });

  it('gives a topic made before ids one at the next start, the same ever after', () => {
    manager.create('fresh', 1, {});
    const freshId = manager.get('fresh').record.topicId;
    expect(freshId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    manager.close();
    const store = new TopicStore(directory);
    store.save({ name: 'legacy', partitions: 1, configs: {}, createdAtMs: 0 });
    store.close();
    open();
    const legacyId = manager.get('legacy').record.topicId;
    expect(legacyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(manager.get('fresh').record.topicId).toBe(freshId);
    manager.close();
    open();
    expect(manager.get('legacy').record.topicId).toBe(legacyId);
  });
});
