/**
 * AddOffsetsToTxn (API key 25): a transactional producer that will commit a group's offsets in
 * its transaction adds the group's `__consumer_offsets` partition to it. v3 is the first flexible
 * version; v4 (KIP-890) changes only error semantics and is not in Sluice's schema.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const addOffsetsToTxnRequest = {
  name: 'AddOffsetsToTxnRequest',
  apiKey: 25,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'groupId', type: 'string', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const addOffsetsToTxnResponse = {
  name: 'AddOffsetsToTxnResponse',
  apiKey: 25,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export type AddOffsetsToTxnRequest = KafkaMessage<typeof addOffsetsToTxnRequest>;
export type AddOffsetsToTxnResponseInput = KafkaMessageInput<typeof addOffsetsToTxnResponse>;
