/**
 * DeleteRecords (API key 21): moves each partition's log start up to `offset` (−1 = the high
 * watermark). v2 is the first flexible version.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const deleteRecordsRequest = {
  name: 'DeleteRecordsRequest',
  apiKey: 21,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'offset', type: 'int64', versions: '0+' },
          ],
        },
      ],
    },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const deleteRecordsResponse = {
  name: 'DeleteRecordsResponse',
  apiKey: 21,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'lowWatermark', type: 'int64', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type DeleteRecordsRequest = KafkaMessage<typeof deleteRecordsRequest>;
export type DeleteRecordsRequestInput = KafkaMessageInput<typeof deleteRecordsRequest>;
export type DeleteRecordsResponse = KafkaMessage<typeof deleteRecordsResponse>;
export type DeleteRecordsResponseInput = KafkaMessageInput<typeof deleteRecordsResponse>;
