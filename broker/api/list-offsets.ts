/** ListOffsets on the native protocol: the list-offsets service answers. */
import { Api, type ListOffsetsRequest } from '../../proto/messages.js';
import { listOffsets } from '../services/list-offsets.js';
import type { ApiHandler } from './context.js';

export const listOffsetsHandler: ApiHandler = {
  api: Api.LIST_OFFSETS,
  name: 'ListOffsets',
  bodyField: 'listOffsets',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context) {
    return { kind: 'body', body: { topics: listOffsets(context, request.listOffsets as ListOffsetsRequest) } };
  },
};
