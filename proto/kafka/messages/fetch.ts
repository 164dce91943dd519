/**
 * Fetch (API key 1). v4 is the first version carrying RecordBatch v2 (Kafka 4.0's baseline);
 * v12 is the first flexible one (last fetched epoch, diverging epoch, current leader); v13
 * names topics by id instead of by name; v15 moves the replica id into a tagged ReplicaState;
 * v16 adds node endpoints; v17 the follower's directory id.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const fetchRequest = {
  name: 'FetchRequest',
  apiKey: 1,
  type: 'request',
  validVersions: '0-17',
  flexibleVersions: '12+',
  fields: [
    { name: 'clusterId', type: 'string', versions: '12+', nullableVersions: '12+', default: null, tag: 0, taggedVersions: '12+' },
    { name: 'replicaId', type: 'int32', versions: '0-14', default: -1 },
    {
      name: 'replicaState', type: 'struct', versions: '15+', tag: 1, taggedVersions: '15+', fields: [
        { name: 'replicaId', type: 'int32', versions: '15+', default: -1 },
        { name: 'replicaEpoch', type: 'int64', versions: '15+', default: -1 },
      ],
    },
    { name: 'maxWaitMs', type: 'int32', versions: '0+' },
    { name: 'minBytes', type: 'int32', versions: '0+' },
    { name: 'maxBytes', type: 'int32', versions: '3+', default: 0x7fffffff },
    { name: 'isolationLevel', type: 'int8', versions: '4+', default: 0 },
    { name: 'sessionId', type: 'int32', versions: '7+', default: 0 },
    { name: 'sessionEpoch', type: 'int32', versions: '7+', default: -1 },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'topic', type: 'string', versions: '0-12' },
        { name: 'topicId', type: 'uuid', versions: '13+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partition', type: 'int32', versions: '0+' },
            { name: 'currentLeaderEpoch', type: 'int32', versions: '9+', default: -1 },
            { name: 'fetchOffset', type: 'int64', versions: '0+' },
            { name: 'lastFetchedEpoch', type: 'int32', versions: '12+', default: -1 },
            { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1 },
            { name: 'partitionMaxBytes', type: 'int32', versions: '0+' },
            { name: 'replicaDirectoryId', type: 'uuid', versions: '17+', tag: 0, taggedVersions: '17+' },
          ],
        },
      ],
    },
    {
      name: 'forgottenTopicsData', type: '[]struct', versions: '7+', fields: [
        { name: 'topic', type: 'string', versions: '7-12' },
        { name: 'topicId', type: 'uuid', versions: '13+' },
        { name: 'partitions', type: '[]int32', versions: '7+' },
      ],
    },
    { name: 'rackId', type: 'string', versions: '11+', default: '' },
  ],
} as const satisfies MessageSchema;

export const fetchResponse = {
  name: 'FetchResponse',
  apiKey: 1,
  type: 'response',
  validVersions: '0-17',
  flexibleVersions: '12+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '7+' },
    { name: 'sessionId', type: 'int32', versions: '7+', default: 0 },
    {
      name: 'responses', type: '[]struct', versions: '0+', fields: [
        { name: 'topic', type: 'string', versions: '0-12' },
        { name: 'topicId', type: 'uuid', versions: '13+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'highWatermark', type: 'int64', versions: '0+' },
            { name: 'lastStableOffset', type: 'int64', versions: '4+', default: -1 },
            { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1 },
            {
              name: 'divergingEpoch', type: 'struct', versions: '12+', tag: 0, taggedVersions: '12+', fields: [
                { name: 'epoch', type: 'int32', versions: '12+', default: -1 },
                { name: 'endOffset', type: 'int64', versions: '12+', default: -1 },
              ],
            },
            {
              name: 'currentLeader', type: 'struct', versions: '12+', tag: 1, taggedVersions: '12+', fields: [
                { name: 'leaderId', type: 'int32', versions: '12+', default: -1 },
                { name: 'leaderEpoch', type: 'int32', versions: '12+', default: -1 },
              ],
            },
            {
              name: 'snapshotId', type: 'struct', versions: '12+', tag: 2, taggedVersions: '12+', fields: [
                { name: 'endOffset', type: 'int64', versions: '0+', default: -1 },
                { name: 'epoch', type: 'int32', versions: '0+', default: -1 },
              ],
            },
            {
              name: 'abortedTransactions', type: '[]struct', versions: '4+', nullableVersions: '4+', fields: [
                { name: 'producerId', type: 'int64', versions: '4+' },
                { name: 'firstOffset', type: 'int64', versions: '4+' },
              ],
            },
            { name: 'preferredReadReplica', type: 'int32', versions: '11+', default: -1 },
            { name: 'records', type: 'records', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
    {
      name: 'nodeEndpoints', type: '[]struct', versions: '16+', tag: 0, taggedVersions: '16+', fields: [
        { name: 'nodeId', type: 'int32', versions: '16+' },
        { name: 'host', type: 'string', versions: '16+' },
        { name: 'port', type: 'int32', versions: '16+' },
        { name: 'rack', type: 'string', versions: '16+', nullableVersions: '16+', default: null },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type FetchRequest = KafkaMessage<typeof fetchRequest>;
export type FetchRequestInput = KafkaMessageInput<typeof fetchRequest>;
export type FetchResponse = KafkaMessage<typeof fetchResponse>;
export type FetchResponseInput = KafkaMessageInput<typeof fetchResponse>;
