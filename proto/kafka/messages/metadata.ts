/**
 * Metadata (API key 3). In v0 an empty topic list means every topic; from v1 that is a null
 * list. v9 is the first flexible version; v10 adds topic ids; v12 lets a request name topics
 * by id (name null); v13 adds a top-level error code.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const metadataRequest = {
  name: 'MetadataRequest',
  apiKey: 3,
  type: 'request',
  validVersions: '0-13',
  flexibleVersions: '9+',
  fields: [
    {
      name: 'topics', type: '[]struct', versions: '0+', nullableVersions: '1+', fields: [
        { name: 'topicId', type: 'uuid', versions: '10+' },
        { name: 'name', type: 'string', versions: '0+', nullableVersions: '10+' },
      ],
    },
    { name: 'allowAutoTopicCreation', type: 'bool', versions: '4+', default: true },
    { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: '8-10' },
    { name: 'includeTopicAuthorizedOperations', type: 'bool', versions: '8+' },
  ],
} as const satisfies MessageSchema;

export const metadataResponse = {
  name: 'MetadataResponse',
  apiKey: 3,
  type: 'response',
  validVersions: '0-13',
  flexibleVersions: '9+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
    {
      name: 'brokers', type: '[]struct', versions: '0+', fields: [
        { name: 'nodeId', type: 'int32', versions: '0+' },
        { name: 'host', type: 'string', versions: '0+' },
        { name: 'port', type: 'int32', versions: '0+' },
        { name: 'rack', type: 'string', versions: '1+', nullableVersions: '1+', default: null },
      ],
    },
    { name: 'clusterId', type: 'string', versions: '2+', nullableVersions: '2+', default: null },
    { name: 'controllerId', type: 'int32', versions: '1+', default: -1 },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'name', type: 'string', versions: '0+', nullableVersions: '12+' },
        { name: 'topicId', type: 'uuid', versions: '10+' },
        { name: 'isInternal', type: 'bool', versions: '1+', default: false },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'leaderId', type: 'int32', versions: '0+' },
            { name: 'leaderEpoch', type: 'int32', versions: '7+', default: -1 },
            { name: 'replicaNodes', type: '[]int32', versions: '0+' },
            { name: 'isrNodes', type: '[]int32', versions: '0+' },
            { name: 'offlineReplicas', type: '[]int32', versions: '5+' },
          ],
        },
        { name: 'topicAuthorizedOperations', type: 'int32', versions: '8+', default: -2147483648 },
      ],
    },
    { name: 'clusterAuthorizedOperations', type: 'int32', versions: '8-10', default: -2147483648 },
    { name: 'errorCode', type: 'int16', versions: '13+' },
  ],
} as const satisfies MessageSchema;

export type MetadataRequest = KafkaMessage<typeof metadataRequest>;
export type MetadataRequestInput = KafkaMessageInput<typeof metadataRequest>;
export type MetadataResponse = KafkaMessage<typeof metadataResponse>;
export type MetadataResponseInput = KafkaMessageInput<typeof metadataResponse>;
