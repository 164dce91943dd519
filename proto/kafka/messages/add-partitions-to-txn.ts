/**
 * AddPartitionsToTxn (API key 24): a transactional producer names the partitions it is about to
 * write to before it writes. v3 is the first flexible version. v4+ (KIP-890) batches many
 * transactions for broker-to-broker use with another layout; Sluice's schema stops at v3.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const addPartitionsToTxnRequest = {
  name: 'AddPartitionsToTxnRequest',
  apiKey: 24,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'v3AndBelowTransactionalId', type: 'string', versions: '0-3' },
    { name: 'v3AndBelowProducerId', type: 'int64', versions: '0-3' },
    { name: 'v3AndBelowProducerEpoch', type: 'int16', versions: '0-3' },
    {
      name: 'v3AndBelowTopics', type: '[]struct', versions: '0-3', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'partitions', type: '[]int32', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const addPartitionsToTxnResponse = {
  name: 'AddPartitionsToTxnResponse',
  apiKey: 24,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'resultsByTopicV3AndBelow', type: '[]struct', versions: '0-3', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'resultsByPartition', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'partitionErrorCode', type: 'int16', versions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type AddPartitionsToTxnRequest = KafkaMessage<typeof addPartitionsToTxnRequest>;
export type AddPartitionsToTxnResponseInput = KafkaMessageInput<typeof addPartitionsToTxnResponse>;
