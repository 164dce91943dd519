/** DeleteGroups (API key 42). v2 is the first flexible version. */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const deleteGroupsRequest = {
  name: 'DeleteGroupsRequest',
  apiKey: 42,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [{ name: 'groupsNames', type: '[]string', versions: '0+' }],
} as const satisfies MessageSchema;

export const deleteGroupsResponse = {
  name: 'DeleteGroupsResponse',
  apiKey: 42,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'results', type: '[]struct', versions: '0+', fields: [
        { name: 'groupId', type: 'string', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type DeleteGroupsRequest = KafkaMessage<typeof deleteGroupsRequest>;
export type DeleteGroupsRequestInput = KafkaMessageInput<typeof deleteGroupsRequest>;
export type DeleteGroupsResponse = KafkaMessage<typeof deleteGroupsResponse>;
export type DeleteGroupsResponseInput = KafkaMessageInput<typeof deleteGroupsResponse>;
