/**
 * SyncGroup (API key 14): the leader sends every member's assignment (opaque bytes, ConsumerProtocol
 * for consumers), each member gets its own. v3 adds static membership; v4 is the first flexible
 * version; v5 carries the protocol type and name both ways.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const syncGroupRequest = {
  name: 'SyncGroupRequest',
  apiKey: 14,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    {
      name: 'assignments', type: '[]struct', versions: '0+', fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'assignment', type: 'bytes', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const syncGroupResponse = {
  name: 'SyncGroupResponse',
  apiKey: 14,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'assignment', type: 'bytes', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export type SyncGroupRequest = KafkaMessage<typeof syncGroupRequest>;
export type SyncGroupRequestInput = KafkaMessageInput<typeof syncGroupRequest>;
export type SyncGroupResponse = KafkaMessage<typeof syncGroupResponse>;
export type SyncGroupResponseInput = KafkaMessageInput<typeof syncGroupResponse>;
