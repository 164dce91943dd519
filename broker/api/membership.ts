/**
 * Group membership APIs — FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * DescribeGroups — as thin handlers over the group coordinator (broker/groups/coordinator.ts).
 */
import { Api, type HeartbeatRequest, type JoinGroupRequest, type LeaveGroupRequest, type SyncGroupRequest } from '../../proto/messages.js';
import type { ApiHandler } from './context.js';

const handler = (api: number, name: string, bodyField: ApiHandler['bodyField'], handle: ApiHandler['handle']): ApiHandler =>
  ({ api, name, bodyField, minVersion: 1, maxVersion: 1, handle });

export const joinGroupHandler = handler(Api.JOIN_GROUP, 'JoinGroup', 'joinGroup', async (request, context) => ({
  kind: 'body', body: await context.groups.join(request.joinGroup as JoinGroupRequest, request.clientId),
}));

export const syncGroupHandler = handler(Api.SYNC_GROUP, 'SyncGroup', 'syncGroup', async (request, context) => ({
  kind: 'body', body: { assignment: await context.groups.sync(request.syncGroup as SyncGroupRequest) },
}));

export const heartbeatHandler = handler(Api.HEARTBEAT, 'Heartbeat', 'heartbeat', (request, context) => {
  const body = request.heartbeat as HeartbeatRequest;
  context.groups.heartbeat(body.groupId, body.generationId, body.memberId);
  return { kind: 'body', body: {} };
});

export const leaveGroupHandler = handler(Api.LEAVE_GROUP, 'LeaveGroup', 'leaveGroup', (request, context) => {
  const body = request.leaveGroup as LeaveGroupRequest;
  context.groups.leave(body.groupId, body.memberId);
  context.logger.info({ group: body.groupId, member: body.memberId }, 'member left group');
  return { kind: 'body', body: {} };
});

export const describeGroupsHandler = handler(Api.DESCRIBE_GROUPS, 'DescribeGroups', 'describeGroups', (request, context) => {
  const ids = (request.describeGroups as { groupIds: string[] }).groupIds;
  return {
    kind: 'body',
    body: {
      groups: ids.map((groupId) => context.groups.describe(groupId)
        ?? { groupId, state: context.offsets.groups().includes(groupId) ? 'Empty' : 'Dead', generationId: 0, protocolName: '', leader: '', members: [] }),
    },
  };
});

/** One broker coordinates every group; a cluster will pick the leader of the group's offsets partition. */
export const findCoordinatorHandler = handler(Api.FIND_COORDINATOR, 'FindCoordinator', 'findCoordinator', (_request, context) => ({
  kind: 'body',
  body: { nodeId: context.settings.nodeId, host: context.settings.advertisedHost, port: context.settings.advertisedPort },
}));
