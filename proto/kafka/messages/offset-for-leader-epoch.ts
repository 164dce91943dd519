/**
 * OffsetForLeaderEpoch (API key 23): the end offset of a leader epoch, for truncation checks.
 * v1 returns the epoch too; v2 adds the current leader epoch (fencing); v3 a replica id (−2 for
 * a consumer allowed past the high watermark, −1 a normal consumer); v4 is the first flexible one.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const offsetForLeaderEpochRequest = {
  name: 'OffsetForLeaderEpochRequest',
  apiKey: 23,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'replicaId', type: 'int32', versions: '3+', default: -2 },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'topic', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partition', type: 'int32', versions: '0+' },
            { name: 'currentLeaderEpoch', type: 'int32', versions: '2+', default: -1 },
            { name: 'leaderEpoch', type: 'int32', versions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const offsetForLeaderEpochResponse = {
  name: 'OffsetForLeaderEpochResponse',
  apiKey: 23,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'topic', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'partition', type: 'int32', versions: '0+' },
            { name: 'leaderEpoch', type: 'int32', versions: '1+', default: -1 },
            { name: 'endOffset', type: 'int64', versions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type OffsetForLeaderEpochRequest = KafkaMessage<typeof offsetForLeaderEpochRequest>;
export type OffsetForLeaderEpochRequestInput = KafkaMessageInput<typeof offsetForLeaderEpochRequest>;
export type OffsetForLeaderEpochResponse = KafkaMessage<typeof offsetForLeaderEpochResponse>;
export type OffsetForLeaderEpochResponseInput = KafkaMessageInput<typeof offsetForLeaderEpochResponse>;
