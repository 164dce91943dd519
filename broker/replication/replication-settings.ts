/**
 * Broker settings of replication, with Kafka's names and defaults (REPLICATION-FACTS.md §N).
 */
import { SluiceError } from '../../proto/errors.js';

export interface ReplicationSettings {
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR (checked every half of it). */
  replicaLagTimeMaxMs: number;
  /** replica.fetch.wait.max.ms: how long a follower's fetch waits on the leader for new records. */
  replicaFetchWaitMaxMs: number;
  /** replica.fetch.min.bytes. */
  replicaFetchMinBytes: number;
  /** replica.fetch.max.bytes: per partition of one follower fetch. */
  replicaFetchMaxBytes: number;
  /** replica.fetch.response.max.bytes: per follower fetch. */
  replicaFetchResponseMaxBytes: number;
  /** replica.fetch.backoff.ms: the pause after a failed follower fetch. */
  replicaFetchBackoffMs: number;
  /** replica.socket.timeout.ms: connect and answer deadline of follower requests. */
  replicaSocketTimeoutMs: number;
  /** replica.high.watermark.checkpoint.interval.ms: how often high watermarks are written to disk. */
  replicaHighWatermarkCheckpointIntervalMs: number;
}

export const defaultReplicationSettings: Readonly<ReplicationSettings> = Object.freeze({
  replicaLagTimeMaxMs: 30_000,
  replicaFetchWaitMaxMs: 500,
  replicaFetchMinBytes: 1,
  replicaFetchMaxBytes: 1024 * 1024,
  replicaFetchResponseMaxBytes: 10 * 1024 * 1024,
  replicaFetchBackoffMs: 1000,
  replicaSocketTimeoutMs: 30_000,
  replicaHighWatermarkCheckpointIntervalMs: 5000,
});

const settingNames: Readonly<Record<keyof ReplicationSettings, string>> = {
  replicaLagTimeMaxMs: 'replica.lag.time.max.ms',
  replicaFetchWaitMaxMs: 'replica.fetch.wait.max.ms',
  replicaFetchMinBytes: 'replica.fetch.min.bytes',
  replicaFetchMaxBytes: 'replica.fetch.max.bytes',
  replicaFetchResponseMaxBytes: 'replica.fetch.response.max.bytes',
  replicaFetchBackoffMs: 'replica.fetch.backoff.ms',
  replicaSocketTimeoutMs: 'replica.socket.timeout.ms',
  replicaHighWatermarkCheckpointIntervalMs: 'replica.high.watermark.checkpoint.interval.ms',
};

/** Kafka's defaults with `overrides`; each value must be a whole number in 1..2^31−1 (timers included). */
export function resolveReplicationSettings(overrides: Partial<ReplicationSettings> = {}): ReplicationSettings {
  const settings: ReplicationSettings = { ...defaultReplicationSettings, ...overrides };
  for (const [field, name] of Object.entries(settingNames) as Array<[keyof ReplicationSettings, string]>) {
    const value = settings[field];
    if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `${name} must be a whole number from 1 to 2147483647, got ${value}`);
    }
  }
  if (settings.replicaFetchWaitMaxMs >= settings.replicaSocketTimeoutMs) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `replica.fetch.wait.max.ms (${settings.replicaFetchWaitMaxMs}) must be below replica.socket.timeout.ms (${settings.replicaSocketTimeoutMs}), or every parked follower fetch would time out`);
  }
  return settings;
}
