/**
 * What the group coordinator needs to know about the partitions of `__consumer_offsets`:
 * which of them this broker leads (it coordinates exactly the groups of those), who leads
 * the others (FindCoordinator sends clients there), when that changes, and a way to append
 * that resolves only once the records are committed. The embedded single broker implements
 * it in local-offsets-partitions.ts; a cluster implements it over its replica manager.
 */
import type { Partition } from '../topics/topic-manager.js';

export interface CoordinatorEndpoint {
  nodeId: number;
  host: string;
  port: number;
}

export interface OffsetsTopicPartitions {
  /** __consumer_offsets' partition count (1 on a single broker, as today's data has it). */
  readonly count: number;
  /** Whether this broker leads the partition right now (it then coordinates its groups). */
  leads(partition: number): boolean;
  /**
   * The partition's local replica, to load its groups from when leadership is gained;
   * undefined when there is none yet (on a single broker: before the first commit).
   */
  replica(partition: number): Partition | undefined;
  /**
   * Who coordinates groups of that partition now (its leader), or undefined when it has none.
   * Asked only for partitions this broker does not lead: for its own, FindCoordinator answers
   * this broker's advertised address.
   */
  leaderOf(partition: number): CoordinatorEndpoint | undefined;
  /**
   * Called when this broker starts or stops leading a partition, after the change is in force
   * (`leads` already answers the new state). Returns the function that unsubscribes.
   */
  onLeadershipChange(listener: (partition: number, leading: boolean) => void): () => void;
  /**
   * Appends a batch as leader and resolves once it is committed (at the high watermark; on a
   * single broker: once appended, plus its sync when a flush policy is set); rejects with the
   * typed SluiceError (NOT_COORDINATOR when leadership was lost, NOT_ENOUGH_REPLICAS…).
   * Appends land in the log in the order of the calls.
   */
  append(partition: number, batch: Buffer): Promise<void>;
}
