/**
 * OffsetCommit (API key 8). v1 adds the generation, member id and a per-partition commit
 * timestamp (v1 only); v2–v4 a retention time instead; v6 the leader epoch; v7 static
 * membership; v8 is the first flexible version; v9 admits consumer-protocol members, whose
 * member epoch travels in the generation field (hence its name).
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const offsetCommitRequest = {
  name: 'OffsetCommitRequest',
  apiKey: 8,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationIdOrMemberEpoch', type: 'int32', versions: '1+', default: -1 },
    { name: 'memberId', type: 'string', versions: '1+' },
    { name: 'groupInstanceId', type: 'string', versions: '7+', nullableVersions: '7+', default: null },
    { name: 'retentionTimeMs', type: 'int64', versions: '2-4', default: -1 },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'committedOffset', type: 'int64', versions: '0+' },
            { name: 'committedLeaderEpoch', type: 'int32', versions: '6+', default: -1 },
            { name: 'commitTimestamp', type: 'int64', versions: '1', default: -1 },
            { name: 'committedMetadata', type: 'string', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const offsetCommitResponse = {
  name: 'OffsetCommitResponse',
  apiKey: 8,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
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
} as const satisfies MessageSchema;

export type OffsetCommitRequest = KafkaMessage<typeof offsetCommitRequest>;
export type OffsetCommitRequestInput = KafkaMessageInput<typeof offsetCommitRequest>;
export type OffsetCommitResponse = KafkaMessage<typeof offsetCommitResponse>;
export type OffsetCommitResponseInput = KafkaMessageInput<typeof offsetCommitResponse>;
