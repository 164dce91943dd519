/** Heartbeat (API key 12). v3 adds static membership; v4 is the first flexible version. */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const heartbeatRequest = {
  name: 'HeartbeatRequest',
  apiKey: 12,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
  ],
} as const satisfies MessageSchema;

export const heartbeatResponse = {
  name: 'HeartbeatResponse',
  apiKey: 12,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export type HeartbeatRequest = KafkaMessage<typeof heartbeatRequest>;
export type HeartbeatRequestInput = KafkaMessageInput<typeof heartbeatRequest>;
export type HeartbeatResponse = KafkaMessage<typeof heartbeatResponse>;
export type HeartbeatResponseInput = KafkaMessageInput<typeof heartbeatResponse>;
