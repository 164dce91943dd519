/**
 * `__consumer_offsets` made by an older broker with the user defaults (cleanup.policy=delete,
 * which retention would empty) is set back to compact when the broker starts, with a warning,
 * and its committed offsets are still read back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker } from '../../../../broker/broker.js';
import { OffsetStore, offsetsTopic } from '../../../../broker/groups/offset-store.js';
import { limits } from '../../../../broker/limits.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { TopicStore } from '../../../../broker/topics/topic-store.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-offsets-topic-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

async function startBroker(lines: Array<{ level: number; msg: string }>): Promise<Broker> {
  const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line) as { level: number; msg: string }); } });
  const broker = new Broker({
    dataDirectory: directory, host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: -1, autoCreateTopics: true, defaultPartitions: 1,
    logDefaults: {}, frameBytesMax: limits.frameBytesMax, idleTimeoutMs: limits.idleTimeoutMs, groupInitialRebalanceDelayMs: 100, logger,
  });
  await broker.start();
  return broker;
}

describe('the __consumer_offsets topic record', () => {
  it('is repaired from cleanup.policy=delete to compact on start, keeping the committed offsets', async () => {
    const store = new TopicStore(directory);
    store.save({ name: offsetsTopic, partitions: 1, configs: { 'cleanup.policy': 'delete' }, createdAtMs: Date.now() });
    store.close();
    const topics = new TopicManager(directory, {}, () => {});
    topics.open();
    expect(topics.get(offsetsTopic).config.cleanupPolicy).toBe('delete');
    await new OffsetStore(topics).commit('billing', [{ topic: 'orders', partition: 0, offset: 42, metadata: '' }]);
    topics.close();

    const lines: Array<{ level: number; msg: string }> = [];
    const broker = await startBroker(lines);
    try {
      expect(broker.topics.get(offsetsTopic).config.cleanupPolicy).toBe('compact');
      expect(store.load().find((record) => record.name === offsetsTopic)!.configs['cleanup.policy']).toBe('compact');
      expect(lines.some((line) => line.level === 40 && /cleanup\.policy=compact/.test(line.msg))).toBe(true);
      expect(broker.offsets!.committed('billing').map((entry) => entry.offset)).toEqual([42]);
    } finally {
      await broker.stop();
    }
  });

  it('is left alone, without a warning, when it is already compacted', async () => {
    const broker = await startBroker([]);
    await broker.offsets!.commit('billing', [{ topic: 'orders', partition: 0, offset: 1, metadata: '' }]);
    await broker.stop();
    const lines: Array<{ level: number; msg: string }> = [];
    const again = await startBroker(lines);
    expect(again.topics.get(offsetsTopic).config.cleanupPolicy).toBe('compact');
    expect(lines).toEqual([]);
    await again.stop();
  });
});
