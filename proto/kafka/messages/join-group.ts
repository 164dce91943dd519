/**
 * JoinGroup (API key 11). Protocol metadata is opaque bytes to the broker (ConsumerProtocol
 * subscriptions for consumers). v4 makes a new member join twice (first to get a member id);
 * v5 adds static membership (group instance id); v6 is the first flexible version; v7 returns
 * the protocol type; v8 adds a reason; v9 lets the leader skip assignment.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const joinGroupRequest = {
  name: 'JoinGroupRequest',
  apiKey: 11,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'sessionTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'rebalanceTimeoutMs', type: 'int32', versions: '1+', default: -1 },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolType', type: 'string', versions: '0+' },
    {
      name: 'protocols', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'metadata', type: 'bytes', versions: '0+' },
      ],
    },
    { name: 'reason', type: 'string', versions: '8+', nullableVersions: '8+', default: null },
  ],
} as const satisfies MessageSchema;

export const joinGroupResponse = {
  name: 'JoinGroupResponse',
  apiKey: 11,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+', default: -1 },
    { name: 'protocolType', type: 'string', versions: '7+', nullableVersions: '7+', default: null },
    { name: 'protocolName', type: 'string', versions: '0+', nullableVersions: '7+' },
    { name: 'leader', type: 'string', versions: '0+' },
    { name: 'skipAssignment', type: 'bool', versions: '9+', default: false },
    { name: 'memberId', type: 'string', versions: '0+' },
    {
      name: 'members', type: '[]struct', versions: '0+', fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'groupInstanceId', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
        { name: 'metadata', type: 'bytes', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type JoinGroupRequest = KafkaMessage<typeof joinGroupRequest>;
export type JoinGroupRequestInput = KafkaMessageInput<typeof joinGroupRequest>;
export type JoinGroupResponse = KafkaMessage<typeof joinGroupResponse>;
export type JoinGroupResponseInput = KafkaMessageInput<typeof joinGroupResponse>;
