/**
 * Share groups and group configs on the native protocol (APIs 28–33), over the share
 * coordinator (broker/share/share-coordinator.ts). Errors go in each response's error fields
 * (NOT_COORDINATOR, UNKNOWN_MEMBER_ID, INCONSISTENT_GROUP_PROTOCOL, INVALID_CONFIG…), so a
 * client handles them as it does a classic group's.
 */
import { errorToWire, SluiceError } from '../../proto/errors.js';
import {
  type AlterGroupConfigsRequest, Api, type DescribeGroupConfigsRequest, type DescribeShareGroupRequest, type ShareAcknowledgeRequest,
  type ShareFetchRequest, type ShareHeartbeatRequest,
} from '../../proto/messages.js';
import type { ShareCoordinator } from '../share/share-coordinator.js';
import type { ApiHandler, BrokerContext, HandlerResult } from './context.js';

function coordinator(context: BrokerContext): ShareCoordinator {
  if (context.share === undefined) throw new SluiceError('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', 'the share coordinator is not running yet; retry shortly');
  return context.share;
}

/** The body `run` makes, or `empty` with the error it threw. */
async function answer(context: BrokerContext, api: string, empty: Record<string, unknown>, run: (share: ShareCoordinator) => Promise<object> | object): Promise<HandlerResult> {
  try {
    return { kind: 'body', body: await run(coordinator(context)) };
  } catch (error) {
    if (!SluiceError.is(error)) context.logger.error({ err: error, api }, 'share request failed');
    return { kind: 'body', body: { ...empty, ...errorToWire(error) } };
  }
}

const handler = (api: number, name: string, bodyField: ApiHandler['bodyField'], handle: ApiHandler['handle']): ApiHandler =>
  ({ api, name, bodyField, minVersion: 1, maxVersion: 1, handle });

/** A group id with live classic members or committed offsets is a classic group. */
const classicGroups = (context: BrokerContext) => ({
  inUse: (groupId: string) => context.groups.describe(groupId) !== undefined || context.offsets.committed(groupId).length > 0,
});

export const shareHandlers: ApiHandler[] = [
  handler(Api.SHARE_HEARTBEAT, 'ShareHeartbeat', 'shareHeartbeat', (request, context) =>
    answer(context, 'ShareHeartbeat', { memberId: '', heartbeatIntervalMs: 0 }, (share) =>
      share.heartbeat(request.shareHeartbeat as ShareHeartbeatRequest, request.clientId, classicGroups(context)))),
  handler(Api.SHARE_FETCH, 'ShareFetch', 'shareFetch', (request, context) =>
    answer(context, 'ShareFetch', { topics: [], ackResults: [] }, (share) => share.fetch(request.shareFetch as ShareFetchRequest))),
  handler(Api.SHARE_ACKNOWLEDGE, 'ShareAcknowledge', 'shareAcknowledge', (request, context) =>
    answer(context, 'ShareAcknowledge', { results: [] }, async (share) => {
      const body = request.shareAcknowledge as ShareAcknowledgeRequest;
      return { errorCode: 0, errorMessage: '', results: await share.acknowledge(body.groupId, body.memberId, body.acks) };
    })),
  handler(Api.DESCRIBE_SHARE_GROUP, 'DescribeShareGroup', 'describeShareGroup', (request, context) => {
    const groupId = (request.describeShareGroup as DescribeShareGroupRequest).groupId;
    return answer(context, 'DescribeShareGroup', { groupId, state: '', members: [], partitions: [] }, (share) => share.describe(groupId));
  }),
  handler(Api.ALTER_GROUP_CONFIGS, 'AlterGroupConfigs', 'alterGroupConfigs', (request, context) =>
    answer(context, 'AlterGroupConfigs', {}, async (share) => {
      await share.alterConfigs(request.alterGroupConfigs as AlterGroupConfigsRequest);
      return { errorCode: 0, errorMessage: '' };
    })),
  handler(Api.DESCRIBE_GROUP_CONFIGS, 'DescribeGroupConfigs', 'describeGroupConfigs', (request, context) =>
    answer(context, 'DescribeGroupConfigs', { configs: [] }, (share) =>
      ({ errorCode: 0, errorMessage: '', configs: share.describeConfigs((request.describeGroupConfigs as DescribeGroupConfigsRequest).groupId) }))),
];
