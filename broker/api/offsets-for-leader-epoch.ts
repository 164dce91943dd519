/** OffsetsForLeaderEpoch (Api 17) on the native protocol: the service in broker/services answers. */
import { Api, type OffsetsForLeaderEpochRequest } from '../../proto/messages.js';
import { offsetsForLeaderEpoch } from '../services/offsets-for-leader-epoch.js';
import type { ApiHandler } from './context.js';

export const offsetsForLeaderEpochHandler: ApiHandler = {
  api: Api.OFFSETS_FOR_LEADER_EPOCH,
  name: 'OffsetsForLeaderEpoch',
  bodyField: 'offsetsForLeaderEpoch',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context) {
    return { kind: 'body', body: { topics: offsetsForLeaderEpoch(context, request.offsetsForLeaderEpoch as OffsetsForLeaderEpochRequest) } };
  },
};
