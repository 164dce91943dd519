/**
 * Transactional offset commits in the offset store, over a real `__consumer_offsets` log: kept
 * pending per producer (not returned, but reported as unstable) until that producer's marker
 * lands on the partition — applied on commit, dropped on abort — and rebuilt the same way when
 * the partition is loaded again from its log (batches and markers replayed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OffsetStore, offsetsTopic } from '../../../../broker/groups/offset-store.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';

let directory: string;
let topics: TopicManager;
let store: OffsetStore;

function open(): void {
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  store = new OffsetStore(topics);
}

/** What the leader's WriteTxnMarkers does: the marker in the log, then the store told. */
function marker(producerId: number, producerEpoch: number, committed: boolean): void {
  topics.partition(offsetsTopic, 0).log.appendTxnMarker({ producerId, producerEpoch, committed, coordinatorEpoch: 0 }, 0);
  store.completeTransaction(0, producerId, committed);
}

const offsetOf = (group: string) => store.committed(group).map((entry) => `${entry.topic}-${entry.partition}@${entry.offset}`);

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-txn-offsets-'));
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  topics.create('in', 2, {});
  topics.close();
  open();
});

afterEach(() => {
  store.close();
  topics.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

describe('transactional offset commits', () => {
  it('are pending until their producer\'s marker: applied on commit, dropped on abort', async () => {
    await store.commit('g', [{ topic: 'in', partition: 0, offset: 1, metadata: '' }]);
    await store.commitTransactional('g', 7, 0, [{ topic: 'in', partition: 0, offset: 5, metadata: 'm' }, { topic: 'in', partition: 1, offset: 2, metadata: '' }]);
    await store.commitTransactional('g', 8, 0, [{ topic: 'in', partition: 1, offset: 9, metadata: '' }]);
    expect(offsetOf('g')).toEqual(['in-0@1']);
    expect([...store.pendingTransactional('g')].sort()).toEqual(['in\u00000', 'in\u00001']);
    marker(8, 0, false);
    expect(offsetOf('g')).toEqual(['in-0@1']);
    marker(7, 0, true);
    expect(offsetOf('g')).toEqual(['in-0@5', 'in-1@2']);
    expect(store.committed('g')[0]!.metadata).toBe('m');
    expect(store.pendingTransactional('g').size).toBe(0);
  });

  it('are refused from a producer epoch older than the partition has seen (a fenced zombie)', async () => {
    await store.commitTransactional('g', 7, 0, [{ topic: 'in', partition: 0, offset: 5, metadata: '' }]);
    // The coordinator fenced epoch 0: its abort marker carries epoch 1.
    marker(7, 1, false);
    await expect(store.commitTransactional('g', 7, 0, [{ topic: 'in', partition: 0, offset: 6, metadata: '' }])).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_PRODUCER_EPOCH' });
    await store.commitTransactional('g', 7, 1, [{ topic: 'in', partition: 0, offset: 7, metadata: '' }]);
    marker(7, 1, true);
    expect(offsetOf('g')).toEqual(['in-0@7']);
  });

  it('are rebuilt from the log: committed ones applied, aborted ones dropped, open ones pending', async () => {
    await store.commitTransactional('g', 7, 0, [{ topic: 'in', partition: 0, offset: 5, metadata: '' }]);
    marker(7, 0, true);
    await store.commitTransactional('g', 7, 0, [{ topic: 'in', partition: 0, offset: 6, metadata: '' }]);
    marker(7, 0, false);
    await store.commitTransactional('g', 9, 0, [{ topic: 'in', partition: 1, offset: 3, metadata: '' }]);
    store.close();
    topics.close();
    open();
    expect(offsetOf('g')).toEqual(['in-0@5']);
    expect([...store.pendingTransactional('g')]).toEqual(['in\u00001']);
    marker(9, 0, true);
    expect(offsetOf('g')).toEqual(['in-0@5', 'in-1@3']);
  });
});
