/**
 * OffsetFetch (API key 9). From v2 a null topic list asks for every committed topic and the
 * response has a top-level error; v5 adds the leader epoch; v6 is the first flexible version;
 * v7 adds require-stable; v8 asks for several groups at once (Groups replaces the top-level
 * group, topics and error); v9 adds the consumer-protocol member id and epoch.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const offsetFetchRequest = {
  name: 'OffsetFetchRequest',
  apiKey: 9,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0-7' },
    {
      name: 'topics', type: '[]struct', versions: '0-7', nullableVersions: '2-7', fields: [
        { name: 'name', type: 'string', versions: '0-7' },
        { name: 'partitionIndexes', type: '[]int32', versions: '0-7' },
      ],
    },
    {
      name: 'groups', type: '[]struct', versions: '8+', fields: [
        { name: 'groupId', type: 'string', versions: '8+' },
        { name: 'memberId', type: 'string', versions: '9+', nullableVersions: '9+', default: null },
        { name: 'memberEpoch', type: 'int32', versions: '9+', default: -1 },
        {
          name: 'topics', type: '[]struct', versions: '8+', nullableVersions: '8+', fields: [
            { name: 'name', type: 'string', versions: '8+' },
            { name: 'partitionIndexes', type: '[]int32', versions: '8+' },
          ],
        },
      ],
    },
    { name: 'requireStable', type: 'bool', versions: '7+', default: false },
  ],
} as const satisfies MessageSchema;

export const offsetFetchResponse = {
  name: 'OffsetFetchResponse',
  apiKey: 9,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
    {
      name: 'topics', type: '[]struct', versions: '0-7', fields: [
        { name: 'name', type: 'string', versions: '0-7' },
        {
          name: 'partitions', type: '[]struct', versions: '0-7', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0-7' },
            { name: 'committedOffset', type: 'int64', versions: '0-7' },
            { name: 'committedLeaderEpoch', type: 'int32', versions: '5-7', default: -1 },
            { name: 'metadata', type: 'string', versions: '0-7', nullableVersions: '0-7' },
            { name: 'errorCode', type: 'int16', versions: '0-7' },
          ],
        },
      ],
    },
    { name: 'errorCode', type: 'int16', versions: '2-7', default: 0 },
    {
      name: 'groups', type: '[]struct', versions: '8+', fields: [
        { name: 'groupId', type: 'string', versions: '8+' },
        {
          name: 'topics', type: '[]struct', versions: '8+', fields: [
            { name: 'name', type: 'string', versions: '8+' },
            {
              name: 'partitions', type: '[]struct', versions: '8+', fields: [
                { name: 'partitionIndex', type: 'int32', versions: '8+' },
                { name: 'committedOffset', type: 'int64', versions: '8+' },
                { name: 'committedLeaderEpoch', type: 'int32', versions: '8+', default: -1 },
                { name: 'metadata', type: 'string', versions: '8+', nullableVersions: '8+' },
                { name: 'errorCode', type: 'int16', versions: '8+' },
              ],
            },
          ],
        },
        { name: 'errorCode', type: 'int16', versions: '8+', default: 0 },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type OffsetFetchRequest = KafkaMessage<typeof offsetFetchRequest>;
export type OffsetFetchRequestInput = KafkaMessageInput<typeof offsetFetchRequest>;
export type OffsetFetchResponse = KafkaMessage<typeof offsetFetchResponse>;
export type OffsetFetchResponseInput = KafkaMessageInput<typeof offsetFetchResponse>;
