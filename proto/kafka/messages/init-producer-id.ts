/**
 * InitProducerId (API key 22): an idempotent (or transactional) producer's id and epoch. v2 is
 * the first flexible version; v3 lets a producer pass its current id and epoch to bump the epoch.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const initProducerIdRequest = {
  name: 'InitProducerIdRequest',
  apiKey: 22,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '3+', default: -1 },
    { name: 'producerEpoch', type: 'int16', versions: '3+', default: -1 },
  ],
} as const satisfies MessageSchema;

export const initProducerIdResponse = {
  name: 'InitProducerIdResponse',
  apiKey: 22,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+', default: -1 },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export type InitProducerIdRequest = KafkaMessage<typeof initProducerIdRequest>;
export type InitProducerIdRequestInput = KafkaMessageInput<typeof initProducerIdRequest>;
export type InitProducerIdResponse = KafkaMessage<typeof initProducerIdResponse>;
export type InitProducerIdResponseInput = KafkaMessageInput<typeof initProducerIdResponse>;
