/**
 * Broker settings of replication, with Kafka's names and defaults (REPLICATION-FACTS.md §N).
 */
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
