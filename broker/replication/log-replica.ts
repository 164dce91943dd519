/**
 * The storage features replication reads from a partition log: its leader-epoch cache and its
 * persisted high watermark. The storage work adds them to `Log` (branch wt-storage); until a log
 * has them, replication runs without epoch-based truncation (followers fall back to the high
 * watermark as Kafka does for logs without epoch entries, §B) and the high watermark lives in
 * memory only.
 */
import type { EpochEndOffset } from '../../proto/messages.js';
import type { Log } from '../storage/log.js';

export interface LeaderEpochCacheView {
  latestEpoch: number | (() => number | undefined) | undefined;
  assign(epoch: number, startOffset: number): void;
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset;
  truncateFromEnd(offset: number): void;
}

interface ReplicaLog {
  leaderEpochs?: LeaderEpochCacheView;
  highWatermark?: number;
  checkpointHighWatermark?: () => void;
}

export function epochCacheOf(log: Log): LeaderEpochCacheView | undefined {
  return (log as unknown as ReplicaLog).leaderEpochs;
}

/** The epoch of the log's last batch, −1 when it has none (Fetch lastFetchedEpoch). */
export function latestEpochOf(log: Log): number {
  const cache = epochCacheOf(log);
  if (cache === undefined) return -1;
  const latest = typeof cache.latestEpoch === 'function' ? cache.latestEpoch.call(cache) : cache.latestEpoch;
  return latest ?? -1;
}

/** EndOffset(epoch) per §H; (−1, −1) when the log keeps no epochs. */
export function endOffsetForEpoch(log: Log, epoch: number): EpochEndOffset {
  const cache = epochCacheOf(log);
  if (cache === undefined || epoch < 0) return { epoch: -1, endOffset: -1 };
  return cache.endOffsetFor(epoch, log.logEndOffset);
}

/** The high watermark the log persisted, or undefined when the log keeps none. */
export function persistedHighWatermarkOf(log: Log): number | undefined {
  return (log as unknown as ReplicaLog).highWatermark;
}

export function persistHighWatermark(log: Log, highWatermark: number): void {
  const replicaLog = log as unknown as ReplicaLog;
  if ('highWatermark' in replicaLog) replicaLog.highWatermark = highWatermark;
}

export function checkpointHighWatermark(log: Log): void {
  (log as unknown as ReplicaLog).checkpointHighWatermark?.();
}
