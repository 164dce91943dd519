/** CreatePartitions (API key 37): grows a topic to `count` partitions. v2 is the first flexible version. */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const createPartitionsRequest = {
  name: 'CreatePartitionsRequest',
  apiKey: 37,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'count', type: 'int32', versions: '0+' },
        {
          name: 'assignments', type: '[]struct', versions: '0+', nullableVersions: '0+', fields: [
            { name: 'brokerIds', type: '[]int32', versions: '0+' },
          ],
        },
      ],
    },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
    { name: 'validateOnly', type: 'bool', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const createPartitionsResponse = {
  name: 'CreatePartitionsResponse',
  apiKey: 37,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'results', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type CreatePartitionsRequest = KafkaMessage<typeof createPartitionsRequest>;
export type CreatePartitionsRequestInput = KafkaMessageInput<typeof createPartitionsRequest>;
export type CreatePartitionsResponse = KafkaMessage<typeof createPartitionsResponse>;
export type CreatePartitionsResponseInput = KafkaMessageInput<typeof createPartitionsResponse>;
