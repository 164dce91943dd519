/**
 * DescribeConfigs (API key 32). Resource type 2 = topic, 4 = broker. v1 adds config sources and
 * synonyms; v3 types and documentation; v4 is the first flexible version.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const describeConfigsRequest = {
  name: 'DescribeConfigsRequest',
  apiKey: 32,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    {
      name: 'resources', type: '[]struct', versions: '0+', fields: [
        { name: 'resourceType', type: 'int8', versions: '0+' },
        { name: 'resourceName', type: 'string', versions: '0+' },
        { name: 'configurationKeys', type: '[]string', versions: '0+', nullableVersions: '0+' },
      ],
    },
    { name: 'includeSynonyms', type: 'bool', versions: '1+', default: false },
    { name: 'includeDocumentation', type: 'bool', versions: '3+', default: false },
  ],
} as const satisfies MessageSchema;

export const describeConfigsResponse = {
  name: 'DescribeConfigsResponse',
  apiKey: 32,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'results', type: '[]struct', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
        { name: 'resourceType', type: 'int8', versions: '0+' },
        { name: 'resourceName', type: 'string', versions: '0+' },
        {
          name: 'configs', type: '[]struct', versions: '0+', fields: [
            { name: 'name', type: 'string', versions: '0+' },
            { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
            { name: 'readOnly', type: 'bool', versions: '0+' },
            { name: 'isDefault', type: 'bool', versions: '0' },
            { name: 'configSource', type: 'int8', versions: '1+', default: -1 },
            { name: 'isSensitive', type: 'bool', versions: '0+' },
            {
              name: 'synonyms', type: '[]struct', versions: '1+', fields: [
                { name: 'name', type: 'string', versions: '1+' },
                { name: 'value', type: 'string', versions: '1+', nullableVersions: '0+' },
                { name: 'source', type: 'int8', versions: '1+' },
              ],
            },
            { name: 'configType', type: 'int8', versions: '3+', default: 0 },
            { name: 'documentation', type: 'string', versions: '3+', nullableVersions: '0+' },
          ],
        },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type DescribeConfigsRequest = KafkaMessage<typeof describeConfigsRequest>;
export type DescribeConfigsRequestInput = KafkaMessageInput<typeof describeConfigsRequest>;
export type DescribeConfigsResponse = KafkaMessage<typeof describeConfigsResponse>;
export type DescribeConfigsResponseInput = KafkaMessageInput<typeof describeConfigsResponse>;
