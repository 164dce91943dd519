/**
 * Group membership on the native protocol — FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, DescribeGroups — as thin handlers over the group services (broker/services/groups.ts).
 */
import {
  Api, type HeartbeatRequest, type JoinGroupRequest, type LeaveGroupRequest, type SyncGroupRequest,
} from '../../proto/messages.js';
import { coordinatorOrError, describeGroup, heartbeat, joinGroup, leaveGroup, syncGroup } from '../services/groups.js';
import { errorToWire } from '../../proto/errors.js';
import { coordinatorKeyType, findTxnCoordinator } from '../transactions/service.js';
import type { ApiHandler } from './context.js';

const handler = (api: number, name: string, bodyField: ApiHandler['bodyField'], handle: ApiHandler['handle']): ApiHandler =>
  ({ api, name, bodyField, minVersion: 1, maxVersion: 1, handle });

export const joinGroupHandler = handler(Api.JOIN_GROUP, 'JoinGroup', 'joinGroup', async (request, context) =>
  ({ kind: 'body', body: await joinGroup(context, request.joinGroup as JoinGroupRequest, request.clientId) }));

export const syncGroupHandler = handler(Api.SYNC_GROUP, 'SyncGroup', 'syncGroup', async (request, context) =>
  ({ kind: 'body', body: { assignment: await syncGroup(context, request.syncGroup as SyncGroupRequest) } }));

export const heartbeatHandler = handler(Api.HEARTBEAT, 'Heartbeat', 'heartbeat', (request, context) => {
  const body = request.heartbeat as HeartbeatRequest;
  heartbeat(context, body.groupId, body.generationId, body.memberId);
  return { kind: 'body', body: {} };
});

export const leaveGroupHandler = handler(Api.LEAVE_GROUP, 'LeaveGroup', 'leaveGroup', (request, context) => {
  const body = request.leaveGroup as LeaveGroupRequest;
  leaveGroup(context, body.groupId, body.memberId);
  return { kind: 'body', body: {} };
});

/** The response has no per-group error: a group coordinated elsewhere fails the whole request. */
export const describeGroupsHandler = handler(Api.DESCRIBE_GROUPS, 'DescribeGroups', 'describeGroups', (request, context) => {
  const ids = (request.describeGroups as { groupIds: string[] }).groupIds;
  for (const groupId of ids) context.offsets.checkCoordinator(groupId);
  return { kind: 'body', body: { groups: ids.map((groupId) => describeGroup(context, groupId)) } };
});

/** The coordinator at its native address; COORDINATOR_NOT_AVAILABLE, in the response's error fields, while there is none. */
export const findCoordinatorHandler = handler(Api.FIND_COORDINATOR, 'FindCoordinator', 'findCoordinator', (request, context) => {
  const { key, keyType } = request.findCoordinator as { key: string; keyType?: number };
  if (keyType === coordinatorKeyType.transaction) {
    try {
      return { kind: 'body', body: { ...findTxnCoordinator(context, key), errorCode: 0, errorMessage: '' } };
    } catch (error) {
      return { kind: 'body', body: { nodeId: -1, host: '', port: -1, ...errorToWire(error) } };
    }
  }
  return { kind: 'body', body: coordinatorOrError(context, key) };
});
