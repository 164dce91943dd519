import { describe, expect, it } from 'vitest';
import { defaultReplicationSettings, resolveReplicationSettings } from '../../../../broker/replication/replication-settings.js';

describe('replication settings', () => {
  it('default to Kafka\'s', () => {
    expect(resolveReplicationSettings()).toEqual(defaultReplicationSettings);
    expect(defaultReplicationSettings).toMatchObject({
      replicaLagTimeMaxMs: 30_000, replicaFetchWaitMaxMs: 500, replicaFetchMaxBytes: 1024 * 1024, replicaFetchBackoffMs: 1000,
      replicaHighWatermarkCheckpointIntervalMs: 5000,
    });
  });

  it('name the Kafka setting that is out of range', () => {
    expect(() => resolveReplicationSettings({ replicaLagTimeMaxMs: 0 })).toThrow(/replica\.lag\.time\.max\.ms/);
    expect(() => resolveReplicationSettings({ replicaFetchBackoffMs: 1.5 })).toThrow(/replica\.fetch\.backoff\.ms/);
    expect(() => resolveReplicationSettings({ replicaFetchWaitMaxMs: 40_000 })).toThrow(/below replica\.socket\.timeout\.ms/);
  });
});
