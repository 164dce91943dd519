/** DescribeTransactions (API key 65, KIP-664): the coordinator's state of transactional ids. Flexible from v0. */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const describeTransactionsRequest = {
  name: 'DescribeTransactionsRequest',
  apiKey: 65,
  type: 'request',
  validVersions: '0-0',
  flexibleVersions: '0+',
  fields: [
    { name: 'transactionalIds', type: '[]string', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const describeTransactionsResponse = {
  name: 'DescribeTransactionsResponse',
  apiKey: 65,
  type: 'response',
  validVersions: '0-0',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'transactionStates', type: '[]struct', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'transactionalId', type: 'string', versions: '0+' },
        { name: 'transactionState', type: 'string', versions: '0+' },
        { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
        { name: 'transactionStartTimeMs', type: 'int64', versions: '0+' },
        { name: 'producerId', type: 'int64', versions: '0+' },
        { name: 'producerEpoch', type: 'int16', versions: '0+' },
        {
          name: 'topics', type: '[]struct', versions: '0+', fields: [
            { name: 'topic', type: 'string', versions: '0+' },
            { name: 'partitions', type: '[]int32', versions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type DescribeTransactionsRequest = KafkaMessage<typeof describeTransactionsRequest>;
export type DescribeTransactionsResponseInput = KafkaMessageInput<typeof describeTransactionsResponse>;
