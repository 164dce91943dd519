/** ListGroups (API key 16). v3 is the first flexible version; v4 filters by state, v5 by type. */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const listGroupsRequest = {
  name: 'ListGroupsRequest',
  apiKey: 16,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'statesFilter', type: '[]string', versions: '4+' },
    { name: 'typesFilter', type: '[]string', versions: '5+' },
  ],
} as const satisfies MessageSchema;

export const listGroupsResponse = {
  name: 'ListGroupsResponse',
  apiKey: 16,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    {
      name: 'groups', type: '[]struct', versions: '0+', fields: [
        { name: 'groupId', type: 'string', versions: '0+' },
        { name: 'protocolType', type: 'string', versions: '0+' },
        { name: 'groupState', type: 'string', versions: '4+' },
        { name: 'groupType', type: 'string', versions: '5+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type ListGroupsRequest = KafkaMessage<typeof listGroupsRequest>;
export type ListGroupsRequestInput = KafkaMessageInput<typeof listGroupsRequest>;
export type ListGroupsResponse = KafkaMessage<typeof listGroupsResponse>;
export type ListGroupsResponseInput = KafkaMessageInput<typeof listGroupsResponse>;
