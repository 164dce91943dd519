/** OffsetCommit, OffsetFetch and ListGroups on the native protocol: the group services answer. */
import { Api, type OffsetCommitRequest, type OffsetFetchRequest } from '../../proto/messages.js';
import { commitOffsets, fetchOffsets, listGroups } from '../services/groups.js';
import type { ApiHandler, BrokerContext } from './context.js';

export const offsetCommitHandler: ApiHandler = {
  api: Api.OFFSET_COMMIT,
  name: 'OffsetCommit',
  bodyField: 'offsetCommit',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context: BrokerContext) {
    return { kind: 'body', body: { topics: await commitOffsets(context, request.offsetCommit as OffsetCommitRequest) } };
  },
};

export const offsetFetchHandler: ApiHandler = {
  api: Api.OFFSET_FETCH,
  name: 'OffsetFetch',
  bodyField: 'offsetFetch',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context: BrokerContext) {
    const body = request.offsetFetch as OffsetFetchRequest;
    return { kind: 'body', body: { topics: await fetchOffsets(context, body.groupId, body.topics, body.requireStable === true) } };
  },
};

export const listGroupsHandler: ApiHandler = {
  api: Api.LIST_GROUPS,
  name: 'ListGroups',
  bodyField: 'listGroups',
  minVersion: 1,
  maxVersion: 1,
  handle(_request, context: BrokerContext) {
    return { kind: 'body', body: { groups: listGroups(context) } };
  },
};
