/**
 * WriteTxnMarkers (API key 27): broker to broker, a transaction coordinator asks a partition's
 * leader to append a commit (transactionResult true) or abort marker for a producer. v1 is the
 * first flexible version.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const writeTxnMarkersRequest = {
  name: 'WriteTxnMarkersRequest',
  apiKey: 27,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    {
      name: 'markers', type: '[]struct', versions: '0+', fields: [
        { name: 'producerId', type: 'int64', versions: '0+' },
        { name: 'producerEpoch', type: 'int16', versions: '0+' },
        { name: 'transactionResult', type: 'bool', versions: '0+' },
        {
          name: 'topics', type: '[]struct', versions: '0+', fields: [
            { name: 'name', type: 'string', versions: '0+' },
            { name: 'partitionIndexes', type: '[]int32', versions: '0+' },
          ],
        },
        { name: 'coordinatorEpoch', type: 'int32', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const writeTxnMarkersResponse = {
  name: 'WriteTxnMarkersResponse',
  apiKey: 27,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    {
      name: 'markers', type: '[]struct', versions: '0+', fields: [
        { name: 'producerId', type: 'int64', versions: '0+' },
        {
          name: 'topics', type: '[]struct', versions: '0+', fields: [
            { name: 'name', type: 'string', versions: '0+' },
            {
              name: 'partitions', type: '[]struct', versions: '0+', fields: [
                { name: 'partitionIndex', type: 'int32', versions: '0+' },
                { name: 'errorCode', type: 'int16', versions: '0+' },
              ],
            },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type WriteTxnMarkersRequest = KafkaMessage<typeof writeTxnMarkersRequest>;
export type WriteTxnMarkersRequestInput = KafkaMessageInput<typeof writeTxnMarkersRequest>;
export type WriteTxnMarkersResponse = KafkaMessage<typeof writeTxnMarkersResponse>;
export type WriteTxnMarkersResponseInput = KafkaMessageInput<typeof writeTxnMarkersResponse>;
