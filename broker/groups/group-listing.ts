import type { GroupCoordinator } from './coordinator.js';
import type { OffsetStore } from './offset-store.js';

export interface GroupListing {
  groupId: string;
  state: string;
  members: number;
  /** classic (JoinGroup/SyncGroup consumers) or share (queues). */
  type: 'classic' | 'share';
}

export interface ShareGroupSource {
  listings(): Array<{ groupId: string; state: string; members: number }>;
}

/**
 * Every group the broker coordinates: live ones from the coordinator, and those with only
 * committed offsets, of the `__consumer_offsets` partitions it leads and has loaded, and the
 * share groups of those partitions.
 */
export function listGroups(coordinator: GroupCoordinator | undefined, offsets: OffsetStore | undefined, share?: ShareGroupSource): GroupListing[] {
  const live = (coordinator?.groups() ?? []).filter((group) => offsets?.coordinates(group.groupId) ?? true);
  const groups = new Map<string, GroupListing>(live.map((group) => [group.groupId, { groupId: group.groupId, state: group.state, members: group.members.length, type: 'classic' }]));
  for (const listing of share?.listings() ?? []) groups.set(listing.groupId, { ...listing, type: 'share' });
  for (const groupId of offsets?.groups() ?? []) if (!groups.has(groupId)) groups.set(groupId, { groupId, state: 'Empty', members: 0, type: 'classic' });
  return [...groups.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
}
