/**
 * CreateTopics (API key 19). v1 adds validate-only and error messages; v4 lets partitions and
 * replication factor be −1 (broker defaults); v5 is the first flexible version and returns the
 * topic's configs; v7 its topic id.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const createTopicsRequest = {
  name: 'CreateTopicsRequest',
  apiKey: 19,
  type: 'request',
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: [
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'numPartitions', type: 'int32', versions: '0+' },
        { name: 'replicationFactor', type: 'int16', versions: '0+' },
        {
          name: 'assignments', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'brokerIds', type: '[]int32', versions: '0+' },
          ],
        },
        {
          name: 'configs', type: '[]struct', versions: '0+', fields: [
            { name: 'name', type: 'string', versions: '0+' },
            { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
    { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
    { name: 'validateOnly', type: 'bool', versions: '1+', default: false },
  ],
} as const satisfies MessageSchema;

export const createTopicsResponse = {
  name: 'CreateTopicsResponse',
  apiKey: 19,
  type: 'response',
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'topicId', type: 'uuid', versions: '7+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '1+', nullableVersions: '0+' },
        { name: 'topicConfigErrorCode', type: 'int16', versions: '5+', tag: 0, taggedVersions: '5+' },
        { name: 'numPartitions', type: 'int32', versions: '5+', default: -1 },
        { name: 'replicationFactor', type: 'int16', versions: '5+', default: -1 },
        {
          name: 'configs', type: '[]struct', versions: '5+', nullableVersions: '5+', fields: [
            { name: 'name', type: 'string', versions: '5+' },
            { name: 'value', type: 'string', versions: '5+', nullableVersions: '5+' },
            { name: 'readOnly', type: 'bool', versions: '5+' },
            { name: 'configSource', type: 'int8', versions: '5+', default: -1 },
            { name: 'isSensitive', type: 'bool', versions: '5+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type CreateTopicsRequest = KafkaMessage<typeof createTopicsRequest>;
export type CreateTopicsRequestInput = KafkaMessageInput<typeof createTopicsRequest>;
export type CreateTopicsResponse = KafkaMessage<typeof createTopicsResponse>;
export type CreateTopicsResponseInput = KafkaMessageInput<typeof createTopicsResponse>;
