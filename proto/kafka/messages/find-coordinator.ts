/**
 * FindCoordinator (API key 10). Key type 0 = group, 1 = transaction, 2 = share. v3 is the
 * first flexible version; v4 batches several keys (CoordinatorKeys → Coordinators) and drops
 * the single-key fields.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const findCoordinatorRequest = {
  name: 'FindCoordinatorRequest',
  apiKey: 10,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: [
    { name: 'key', type: 'string', versions: '0-3' },
    { name: 'keyType', type: 'int8', versions: '1+', default: 0 },
    { name: 'coordinatorKeys', type: '[]string', versions: '4+' },
  ],
} as const satisfies MessageSchema;

export const findCoordinatorResponse = {
  name: 'FindCoordinatorResponse',
  apiKey: 10,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0-3' },
    { name: 'errorMessage', type: 'string', versions: '1-3', nullableVersions: '1-3' },
    { name: 'nodeId', type: 'int32', versions: '0-3' },
    { name: 'host', type: 'string', versions: '0-3' },
    { name: 'port', type: 'int32', versions: '0-3' },
    {
      name: 'coordinators', type: '[]struct', versions: '4+', fields: [
        { name: 'key', type: 'string', versions: '4+' },
        { name: 'nodeId', type: 'int32', versions: '4+' },
        { name: 'host', type: 'string', versions: '4+' },
        { name: 'port', type: 'int32', versions: '4+' },
        { name: 'errorCode', type: 'int16', versions: '4+' },
        { name: 'errorMessage', type: 'string', versions: '4+', nullableVersions: '4+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type FindCoordinatorRequest = KafkaMessage<typeof findCoordinatorRequest>;
export type FindCoordinatorRequestInput = KafkaMessageInput<typeof findCoordinatorRequest>;
export type FindCoordinatorResponse = KafkaMessage<typeof findCoordinatorResponse>;
export type FindCoordinatorResponseInput = KafkaMessageInput<typeof findCoordinatorResponse>;
