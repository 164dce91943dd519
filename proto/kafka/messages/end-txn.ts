/**
 * EndTxn (API key 26): commit or abort the producer's transaction. v3 is the first flexible
 * version; v4+ (KIP-890) change error semantics and the response, and are not in Sluice's schema.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const endTxnRequest = {
  name: 'EndTxnRequest',
  apiKey: 26,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'committed', type: 'bool', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const endTxnResponse = {
  name: 'EndTxnResponse',
  apiKey: 26,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export type EndTxnRequest = KafkaMessage<typeof endTxnRequest>;
export type EndTxnResponseInput = KafkaMessageInput<typeof endTxnResponse>;
