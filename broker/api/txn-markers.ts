/** WriteTxnMarkers on the native protocol (broker to broker, from transaction coordinators): the txn-markers service answers. */
import { Api, type WriteTxnMarkersRequest } from '../../proto/messages.js';
import { writeTxnMarkers } from '../services/txn-markers.js';
import type { ApiHandler } from './context.js';

export const writeTxnMarkersHandler: ApiHandler = {
  api: Api.WRITE_TXN_MARKERS,
  name: 'WriteTxnMarkers',
  bodyField: 'writeTxnMarkers',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    return { kind: 'body', body: await writeTxnMarkers(context, request.writeTxnMarkers as WriteTxnMarkersRequest) };
  },
};
