/** Produce on the native protocol: the produce service (broker/services/produce.ts) answers. */
import { Api, type ProduceRequest } from '../../proto/messages.js';
import { produce } from '../services/produce.js';
import type { ApiHandler } from './context.js';

export const produceHandler: ApiHandler = {
  api: Api.PRODUCE,
  name: 'Produce',
  bodyField: 'produce',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    const body = request.produce as ProduceRequest;
    const topics = await produce(context, body);
    return body.acks === 0 ? { kind: 'none' } : { kind: 'body', body: { topics } };
  },
};
