/**
 * InitProducerId (native): a producer id and epoch for an idempotent producer, from this
 * broker's block of ids; with a transactional id, the transaction coordinator's answer.
 */
import { Api, type InitProducerIdRequest } from '../../proto/messages.js';
import { initProducerId } from '../services/producer-ids.js';
import type { ApiHandler } from './context.js';

export const initProducerIdHandler: ApiHandler = {
  api: Api.INIT_PRODUCER_ID,
  name: 'InitProducerId',
  bodyField: 'initProducerId',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    const { producerId, producerEpoch } = await initProducerId(context, request.initProducerId as InitProducerIdRequest);
    return { kind: 'body', body: { errorCode: 0, errorMessage: '', producerId, producerEpoch } };
  },
};
