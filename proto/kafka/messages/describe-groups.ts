/**
 * DescribeGroups (API key 15). v3 adds authorized operations; v4 members' group instance ids;
 * v5 is the first flexible version; v6 a per-group error message (and GROUP_ID_NOT_FOUND for
 * unknown groups).
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const describeGroupsRequest = {
  name: 'DescribeGroupsRequest',
  apiKey: 15,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '5+',
  fields: [
    { name: 'groups', type: '[]string', versions: '0+' },
    { name: 'includeAuthorizedOperations', type: 'bool', versions: '3+' },
  ],
} as const satisfies MessageSchema;

export const describeGroupsResponse = {
  name: 'DescribeGroupsResponse',
  apiKey: 15,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '5+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    {
      name: 'groups', type: '[]struct', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '6+', nullableVersions: '6+', default: null },
        { name: 'groupId', type: 'string', versions: '0+' },
        { name: 'groupState', type: 'string', versions: '0+' },
        { name: 'protocolType', type: 'string', versions: '0+' },
        { name: 'protocolData', type: 'string', versions: '0+' },
        {
          name: 'members', type: '[]struct', versions: '0+', fields: [
            { name: 'memberId', type: 'string', versions: '0+' },
            { name: 'groupInstanceId', type: 'string', versions: '4+', nullableVersions: '4+', default: null },
            { name: 'clientId', type: 'string', versions: '0+' },
            { name: 'clientHost', type: 'string', versions: '0+' },
            { name: 'memberMetadata', type: 'bytes', versions: '0+' },
            { name: 'memberAssignment', type: 'bytes', versions: '0+' },
          ],
        },
        { name: 'authorizedOperations', type: 'int32', versions: '3+', default: -2147483648 },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type DescribeGroupsRequest = KafkaMessage<typeof describeGroupsRequest>;
export type DescribeGroupsRequestInput = KafkaMessageInput<typeof describeGroupsRequest>;
export type DescribeGroupsResponse = KafkaMessage<typeof describeGroupsResponse>;
export type DescribeGroupsResponseInput = KafkaMessageInput<typeof describeGroupsResponse>;
