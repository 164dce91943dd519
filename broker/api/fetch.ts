/** Fetch on the native protocol: the fetch service answers, its record slices framed without copying. */
import { Api, type FetchRequest } from '../../proto/messages.js';
import { encodeFetchResponse } from '../protocol/fetch-response.js';
import { fetchRecords } from '../services/fetch.js';
import type { ApiHandler } from './context.js';

export const fetchHandler: ApiHandler = {
  api: Api.FETCH,
  name: 'Fetch',
  bodyField: 'fetch',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    return { kind: 'frames', frames: encodeFetchResponse(request.correlationId, await fetchRecords(context, request.fetch as FetchRequest)) };
  },
};
