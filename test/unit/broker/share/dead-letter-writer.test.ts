/**
 * The dead-letter writer's exactly-once rule with a crash between the DLQ append and the
 * DEAD transition's append: the restarted coordinator finds the records in the DLQ tail and
 * does not write them again; records not yet written are written once, in offset order.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DeadLetterWriter } from '../../../../broker/share/dead-letter-writer.js';
import { resolveGroupConfig } from '../../../../broker/share/group-configs.js';
import type { PartitionRead, PartitionSource } from '../../../../broker/replication/partition-source.js';
import type { ShareGroup } from '../../../../broker/share/share-coordinator.js';
import { SharePartition } from '../../../../broker/share/share-partition.js';
import { RecordState } from '../../../../broker/share/share-records.js';
import { buildRecordBatch, type DecodedRecord, type RecordInput } from '../../../../proto/record-batch/record-batch.js';
import { setBaseOffset } from '../../../../proto/record-batch/record-batch.js';

const logger = pino({ level: 'silent' });

const source: PartitionSource = {
  partitionCount: () => 1,
  ledHere: () => undefined,
  bounds: async () => ({ logStartOffset: 0, highWatermark: 10 }),
  async read(_topic, _partition, from): Promise<PartitionRead> {
    const batch = buildRecordBatch(Array.from({ length: 10 }, (_, index) => ({ key: null, value: Buffer.from(`v${index}`), timestamp: 1000 + index })));
    setBaseOffset(batch, 0, 0);
    return { batches: from < 10 ? [batch] : [], highWatermark: 10, logStartOffset: 0, ttlMs: -1 };
  },
};

class MemorySink {
  readonly records: DecodedRecord[] = [];

  async append(_dlq: string, _sourceTopic: string, _sourcePartition: number, records: RecordInput[]): Promise<void> {
    for (const record of records) {
      this.records.push({ topic: 'dlq', partition: 0, offset: this.records.length, timestamp: record.timestamp ?? 0, key: record.key, value: record.value, headers: record.headers ?? [] });
    }
  }

  async tail(): Promise<DecodedRecord[]> {
    return this.records;
  }
}

function groupWith(share: SharePartition): ShareGroup {
  return {
    id: 'g', overrides: {}, config: resolveGroupConfig({ 'share.dlq.topic': 'dlq' }), members: new Map(), nextMember: 0,
    partitions: new Map([['t\u00000', share]]), waiters: new Set(),
  };
}

/** Three records rejected, the state persisted as DEAD_LETTERING. */
function rejected(): SharePartition {
  const share = new SharePartition('t', 0, 0);
  for (let offset = 0; offset < 10; offset += 1) share.addRecord(offset);
  for (const offset of [2, 3, 5]) share.acquire(offset, 1, 0, 1000);
  share.reject(2, 5, true);
  return share;
}

async function settled(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('dead-letter writer', () => {
  it('writes each record once even when the coordinator dies after the DLQ append', async () => {
    const sink = new MemorySink();
    const crashed = rejected();
    const persisted = crashed.snapshot();
    // The first coordinator appends to the DLQ, then dies before DEAD is persisted.
    let calls = 0;
    const first = new DeadLetterWriter({
      source, sink, logger, current: () => true,
      persist: async () => {
        calls += 1;
        if (calls > 1) throw new Error('broker died');
      },
    });
    first.kick(groupWith(crashed), crashed);
    await settled(() => sink.records.length === 3 && calls > 1);
    first.close();

    const restarted = new SharePartition('t', 0, persisted.start);
    restarted.applyPersisted(persisted, true);
    restarted.recover(resolveGroupConfig({}), true);
    expect(restarted.deadLettering(10)).toEqual([2, 3, 5]);
    const second = new DeadLetterWriter({ source, sink, logger, current: () => true, persist: async () => {} });
    second.recovered(groupWith(restarted), restarted);
    await settled(() => restarted.deadLettering(10).length === 0);
    second.close();
    expect(sink.records.map((record) => record.value?.toString())).toEqual(['v2', 'v3', 'v5']);
    expect(restarted.state(5)).toBe(RecordState.dead);
    expect(restarted.counters.rejected).toBe(3);
  });

  it('records waiting for a DLQ that was unset meanwhile are dropped and counted', () => {
    const share = rejected();
    const group = groupWith(share);
    group.config = resolveGroupConfig({});
    const writer = new DeadLetterWriter({ source, sink: new MemorySink(), logger, current: () => true, persist: async () => {} });
    writer.kick(group, share);
    writer.close();
    expect(share.deadLettering(10)).toEqual([]);
    expect(share.counters).toMatchObject({ rejected: 3, dropped: 3 });
  });

  it('after a restart, records never appended are appended once', async () => {
    const sink = new MemorySink();
    const share = rejected();
    const writer = new DeadLetterWriter({ source, sink, logger, current: () => true, persist: async () => {} });
    writer.recovered(groupWith(share), share);
    await settled(() => share.deadLettering(10).length === 0);
    writer.close();
    expect(sink.records.map((record) => record.value?.toString())).toEqual(['v2', 'v3', 'v5']);
    const headers = Object.fromEntries(sink.records[0]!.headers.map((header) => [header.key, header.value?.toString()]));
    expect(headers).toMatchObject({ 'x-death-reason': 'rejected', 'x-death-offset': '2', 'x-death-count': '1', 'x-death-original-timestamp': '1002' });
  });
});
