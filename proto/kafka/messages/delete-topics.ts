/**
 * DeleteTopics (API key 20). v4 is the first flexible version; v5 adds error messages; v6 names
 * topics by name or id (a struct list replaces the name list).
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const deleteTopicsRequest = {
  name: 'DeleteTopicsRequest',
  apiKey: 20,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: [
    {
      name: 'topics', type: '[]struct', versions: '6+', fields: [
        { name: 'name', type: 'string', versions: '6+', nullableVersions: '6+', default: null },
        { name: 'topicId', type: 'uuid', versions: '6+' },
      ],
    },
    { name: 'topicNames', type: '[]string', versions: '0-5' },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const deleteTopicsResponse = {
  name: 'DeleteTopicsResponse',
  apiKey: 20,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    {
      name: 'responses', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+', nullableVersions: '6+' },
        { name: 'topicId', type: 'uuid', versions: '6+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type DeleteTopicsRequest = KafkaMessage<typeof deleteTopicsRequest>;
export type DeleteTopicsRequestInput = KafkaMessageInput<typeof deleteTopicsRequest>;
export type DeleteTopicsResponse = KafkaMessage<typeof deleteTopicsResponse>;
export type DeleteTopicsResponseInput = KafkaMessageInput<typeof deleteTopicsResponse>;
