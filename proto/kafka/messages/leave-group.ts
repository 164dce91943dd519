/**
 * LeaveGroup (API key 13). Up to v2 one member leaves; from v3 a batch of members (by member id
 * or group instance id) with an error each. v4 is the first flexible version; v5 adds a reason.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const leaveGroupRequest = {
  name: 'LeaveGroupRequest',
  apiKey: 13,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0-2' },
    {
      name: 'members', type: '[]struct', versions: '3+', fields: [
        { name: 'memberId', type: 'string', versions: '3+' },
        { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
        { name: 'reason', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      ],
    },
  ],
} as const satisfies MessageSchema;

export const leaveGroupResponse = {
  name: 'LeaveGroupResponse',
  apiKey: 13,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    {
      name: 'members', type: '[]struct', versions: '3+', fields: [
        { name: 'memberId', type: 'string', versions: '3+' },
        { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+' },
        { name: 'errorCode', type: 'int16', versions: '3+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type LeaveGroupRequest = KafkaMessage<typeof leaveGroupRequest>;
export type LeaveGroupRequestInput = KafkaMessageInput<typeof leaveGroupRequest>;
export type LeaveGroupResponse = KafkaMessage<typeof leaveGroupResponse>;
export type LeaveGroupResponseInput = KafkaMessageInput<typeof leaveGroupResponse>;
