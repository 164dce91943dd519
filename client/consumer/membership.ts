/**
 * The glue between a consumer and its group membership (the protocol itself is
 * groups/group-member.ts): partitions the group assigns are added to the consumer's positions
 * and fetched; partitions it revokes have their handed-out positions committed (with
 * autoCommit), are reported to the application, and are dropped with whatever was buffered
 * for them, so no record of a revoked partition is handed out afterwards.
 */
import type { TopicPartition } from '../groups/assignors.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import { GroupMember, type GroupMemberOptions } from '../groups/group-member.js';
import type { MetadataCache } from '../metadata.js';
import type { Fetcher } from './fetcher.js';
import { partitionKey, type Positions } from './positions.js';

export interface SubscribeOptions {
  /**
   * Partitions this member just got (and its whole assignment). `followUp` is true when the
   * group goes straight into another round to hand over partitions just revoked from other
   * members, so this member's assignment may still grow.
   */
  onAssigned?: (assignment: TopicPartition[], added: TopicPartition[], followUp: boolean) => void | Promise<void>;
  /** Partitions about to be taken away; their handed-out offsets are committed first with autoCommit. */
  onRevoked?: (revoked: TopicPartition[]) => void | Promise<void>;
}

/** The group member's settings, and whether revoked partitions' positions are committed. */
export type MembershipOptions = Omit<GroupMemberOptions, 'onRevoked' | 'onAssigned' | 'onError'> & { autoCommit: boolean };

/** Joins the group and keeps the consumer's partitions in step with its assignment. */
export function startMembership(coordinator: GroupCoordinator, metadata: MetadataCache, positions: Positions, fetcher: Fetcher, options: MembershipOptions,
  callbacks: SubscribeOptions & { onError: (error: unknown) => void }): GroupMember {
  const { autoCommit: _autoCommit, ...settings } = options;
  const member = new GroupMember(coordinator, metadata, {
    ...settings,
    onRevoked: async (revoked) => {
      if (options.autoCommit) {
        const gone = new Set(revoked.map((entry) => partitionKey(entry.topic, entry.partition)));
        await positions.commit(positions.uncommitted((state) => gone.has(partitionKey(state.topic, state.partition)))).catch(() => {});
      }
      await callbacks.onRevoked?.(revoked);
      for (const entry of revoked) {
        const state = positions.remove(entry.topic, entry.partition);
        if (state !== undefined) fetcher.drop(state);
      }
    },
    onAssigned: async (assignment, added, followUp) => {
      for (const entry of added) positions.add(entry.topic, entry.partition);
      await callbacks.onAssigned?.(assignment, added, followUp);
      fetcher.start();
    },
    onError: callbacks.onError,
  });
  member.start();
  return member;
}
