/**
 * Produce (API key 0). Records are RecordBatch v2 from v3 on (v0–v2 carry the old message sets,
 * which Sluice does not store; Kafka 4.0 still advertises them, see apis.ts). v9 is the first
 * flexible version; v10 adds the current leader and node endpoints on NOT_LEADER_OR_FOLLOWER
 * (tagged); v11 and v12 change only error codes and transaction semantics.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const produceRequest = {
  name: 'ProduceRequest',
  apiKey: 0,
  type: 'request',
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'acks', type: 'int16', versions: '0+' },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
    {
      name: 'topicData', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitionData', type: '[]struct', versions: '0+', fields: [
            { name: 'index', type: 'int32', versions: '0+' },
            { name: 'records', type: 'records', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const produceResponse = {
  name: 'ProduceResponse',
  apiKey: 0,
  type: 'response',
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: [
    {
      name: 'responses', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        {
          name: 'partitionResponses', type: '[]struct', versions: '0+', fields: [
            { name: 'index', type: 'int32', versions: '0+' },
            { name: 'errorCode', type: 'int16', versions: '0+' },
            { name: 'baseOffset', type: 'int64', versions: '0+' },
            { name: 'logAppendTimeMs', type: 'int64', versions: '2+', default: -1 },
            { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1 },
            {
              name: 'recordErrors', type: '[]struct', versions: '8+', fields: [
                { name: 'batchIndex', type: 'int32', versions: '8+' },
                { name: 'batchIndexErrorMessage', type: 'string', versions: '8+', nullableVersions: '8+', default: null },
              ],
            },
            { name: 'errorMessage', type: 'string', versions: '8+', nullableVersions: '8+', default: null },
            {
              name: 'currentLeader', type: 'struct', versions: '10+', tag: 0, taggedVersions: '10+', fields: [
                { name: 'leaderId', type: 'int32', versions: '10+', default: -1 },
                { name: 'leaderEpoch', type: 'int32', versions: '10+', default: -1 },
              ],
            },
          ],
        },
      ],
    },
    { name: 'throttleTimeMs', type: 'int32', versions: '1+', default: 0 },
    {
      name: 'nodeEndpoints', type: '[]struct', versions: '10+', tag: 0, taggedVersions: '10+', fields: [
        { name: 'nodeId', type: 'int32', versions: '10+' },
        { name: 'host', type: 'string', versions: '10+' },
        { name: 'port', type: 'int32', versions: '10+' },
        { name: 'rack', type: 'string', versions: '10+', nullableVersions: '10+', default: null },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type ProduceRequest = KafkaMessage<typeof produceRequest>;
export type ProduceRequestInput = KafkaMessageInput<typeof produceRequest>;
export type ProduceResponse = KafkaMessage<typeof produceResponse>;
export type ProduceResponseInput = KafkaMessageInput<typeof produceResponse>;
