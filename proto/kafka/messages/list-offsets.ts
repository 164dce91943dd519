/**
 * ListOffsets (API key 2): the offset for a timestamp, or −1 (latest), −2 (earliest), −3 (max
 * timestamp, v7+), −4 (local log start, v8+), −5 (last tiered, v9+). v0 answered with an array
 * of offsets; v1 on, one offset and its timestamp. v6 is the first flexible version; v10 adds
 * a timeout for remote reads.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const listOffsetsRequest = {
  name: 'ListOffsetsRequest',
  apiKey: 2,
  type: 'request',
  validVersions: '0-10',
  flexibleVersions: '6+',
  fields: [
    { name: 'replicaId', type: 'int32', versions: '0+' },
    { name: 'isolationLevel', type: 'int8', versions: '2+' },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'currentLeaderEpoch', type: 'int32', versions: '4+', default: -1 },
            { name: 'timestamp', type: 'int64', versions: '0+' },
            { name: 'maxNumOffsets', type: 'int32', versions: '0', default: 1 },
          ],
        },
      ],
    },
    { name: 'timeoutMs', type: 'int32', versions: '10+' },
  ],
} as const satisfies MessageSchema;

export const listOffsetsResponse = {
  name: 'ListOffsetsResponse',
  apiKey: 2,
  type: 'response',
  validVersions: '0-10',
  flexibleVersions: '6+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'oldStyleOffsets', type: '[]int64', versions: '0' },
            { name: 'timestamp', type: 'int64', versions: '1+', default: -1 },
            { name: 'offset', type: 'int64', versions: '1+', default: -1 },
            { name: 'leaderEpoch', type: 'int32', versions: '4+', default: -1 },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type ListOffsetsRequest = KafkaMessage<typeof listOffsetsRequest>;
export type ListOffsetsRequestInput = KafkaMessageInput<typeof listOffsetsRequest>;
export type ListOffsetsResponse = KafkaMessage<typeof listOffsetsResponse>;
export type ListOffsetsResponseInput = KafkaMessageInput<typeof listOffsetsResponse>;
