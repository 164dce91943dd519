/**
 * Group membership APIs — FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * DescribeGroups — as thin handlers over the group coordinator (broker/groups/coordinator.ts).
 * A group is coordinated by the leader of its `__consumer_offsets` partition: every request
 * about a group this broker does not coordinate gets NOT_COORDINATOR (or
 * COORDINATOR_LOAD_IN_PROGRESS while its offsets load), and FindCoordinator says who does.
 */
import { errorToWire, SluiceError } from '../../proto/errors.js';
import {
  Api, type FindCoordinatorResponse, type HeartbeatRequest, type JoinGroupRequest, type LeaveGroupRequest, type SyncGroupRequest,
} from '../../proto/messages.js';
import { offsetsTopic } from '../groups/offset-store.js';
import type { ApiHandler } from './context.js';

const handler = (api: number, name: string, bodyField: ApiHandler['bodyField'], handle: ApiHandler['handle']): ApiHandler =>
  ({ api, name, bodyField, minVersion: 1, maxVersion: 1, handle });

export const joinGroupHandler = handler(Api.JOIN_GROUP, 'JoinGroup', 'joinGroup', async (request, context) => {
  const body = request.joinGroup as JoinGroupRequest;
  context.offsets.checkCoordinator(body.groupId);
  return { kind: 'body', body: await context.groups.join(body, request.clientId) };
});

export const syncGroupHandler = handler(Api.SYNC_GROUP, 'SyncGroup', 'syncGroup', async (request, context) => {
  const body = request.syncGroup as SyncGroupRequest;
  context.offsets.checkCoordinator(body.groupId);
  return { kind: 'body', body: { assignment: await context.groups.sync(body) } };
});

export const heartbeatHandler = handler(Api.HEARTBEAT, 'Heartbeat', 'heartbeat', (request, context) => {
  const body = request.heartbeat as HeartbeatRequest;
  context.offsets.checkCoordinator(body.groupId);
  context.groups.heartbeat(body.groupId, body.generationId, body.memberId);
  return { kind: 'body', body: {} };
});

export const leaveGroupHandler = handler(Api.LEAVE_GROUP, 'LeaveGroup', 'leaveGroup', (request, context) => {
  const body = request.leaveGroup as LeaveGroupRequest;
  context.offsets.checkCoordinator(body.groupId);
  context.groups.leave(body.groupId, body.memberId);
  context.logger.info({ group: body.groupId, member: body.memberId }, 'member left group');
  return { kind: 'body', body: {} };
});

/** The response has no per-group error: a group coordinated elsewhere fails the whole request. */
export const describeGroupsHandler = handler(Api.DESCRIBE_GROUPS, 'DescribeGroups', 'describeGroups', (request, context) => {
  const ids = (request.describeGroups as { groupIds: string[] }).groupIds;
  for (const groupId of ids) context.offsets.checkCoordinator(groupId);
  return {
    kind: 'body',
    body: {
      groups: ids.map((groupId) => context.groups.describe(groupId)
        ?? { groupId, state: context.offsets.committed(groupId).length > 0 ? 'Empty' : 'Dead', generationId: 0, protocolType: '', protocolName: '', leader: '', members: [] }),
    },
  };
});

/**
 * The leader of the group's `__consumer_offsets` partition: this broker (at its advertised
 * address) when it leads it, else whoever does; COORDINATOR_NOT_AVAILABLE, in the response's
 * error fields, while the partition has no leader.
 */
export const findCoordinatorHandler = handler(Api.FIND_COORDINATOR, 'FindCoordinator', 'findCoordinator', (request, context) => {
  const { key } = request.findCoordinator as { key: string };
  const partition = context.offsets.partitionFor(key);
  const partitions = context.offsets.partitions;
  const leader = partitions.leads(partition)
    ? { nodeId: context.settings.nodeId, host: context.settings.advertisedHost, port: context.settings.advertisedPort }
    : partitions.leaderOf(partition);
  const body: FindCoordinatorResponse = leader ?? {
    nodeId: -1, host: '', port: 0,
    ...errorToWire(new SluiceError('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', `partition ${partition} of ${offsetsTopic}, which holds group ${key}, has no leader now; retry FindCoordinator shortly`)),
  };
  return { kind: 'body', body };
});
