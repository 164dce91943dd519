/**
 * TxnOffsetCommit (API key 28): a transactional producer commits a group's offsets as part of its
 * transaction, to the group's coordinator. v2 adds the leader epoch; v3 is the first flexible
 * version and adds the generation, member id and group instance id (KIP-447), so a zombie
 * member's commit can be fenced. v4 (KIP-890) is not in Sluice's schema.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const txnOffsetCommitRequest = {
  name: 'TxnOffsetCommitRequest',
  apiKey: 28,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '3+', default: -1 },
    { name: 'memberId', type: 'string', versions: '3+', default: '' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    {
      name: 'topics', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitions', type: '[]struct', versions: '0+', fields: [
            { name: 'partitionIndex', type: 'int32', versions: '0+' },
            { name: 'committedOffset', type: 'int64', versions: '0+' },
            { name: 'committedLeaderEpoch', type: 'int32', versions: '2+', default: -1 },
            { name: 'committedMetadata', type: 'string', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const txnOffsetCommitResponse = {
  name: 'TxnOffsetCommitResponse',
  apiKey: 28,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
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

export type TxnOffsetCommitRequest = KafkaMessage<typeof txnOffsetCommitRequest>;
export type TxnOffsetCommitResponseInput = KafkaMessageInput<typeof txnOffsetCommitResponse>;
