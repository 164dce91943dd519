/**
 * ListTransactions (API key 66, KIP-664): the transactional ids a coordinator holds, filtered by
 * state and producer id; v1 (KIP-994) adds a minimum duration filter. Flexible from v0.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const listTransactionsRequest = {
  name: 'ListTransactionsRequest',
  apiKey: 66,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'stateFilters', type: '[]string', versions: '0+' },
    { name: 'producerIdFilters', type: '[]int64', versions: '0+' },
    { name: 'durationFilter', type: 'int64', versions: '1+', default: -1 },
  ],
} as const satisfies MessageSchema;

export const listTransactionsResponse = {
  name: 'ListTransactionsResponse',
  apiKey: 66,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'unknownStateFilters', type: '[]string', versions: '0+' },
    {
      name: 'transactionStates', type: '[]struct', versions: '0+', fields: [
        { name: 'transactionalId', type: 'string', versions: '0+' },
        { name: 'producerId', type: 'int64', versions: '0+' },
        { name: 'transactionState', type: 'string', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type ListTransactionsRequest = KafkaMessage<typeof listTransactionsRequest>;
export type ListTransactionsResponseInput = KafkaMessageInput<typeof listTransactionsResponse>;
