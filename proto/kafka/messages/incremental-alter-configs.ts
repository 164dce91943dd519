/**
 * IncrementalAlterConfigs (API key 44). Operation 0 = set, 1 = delete, 2 = append, 3 = subtract.
 * v1 is the first flexible version.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const incrementalAlterConfigsRequest = {
  name: 'IncrementalAlterConfigsRequest',
  apiKey: 44,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    {
      name: 'resources', type: '[]struct', versions: '0+', fields: [
        { name: 'resourceType', type: 'int8', versions: '0+' },
        { name: 'resourceName', type: 'string', versions: '0+' },
        {
          name: 'configs', type: '[]struct', versions: '0+', fields: [
            { name: 'name', type: 'string', versions: '0+' },
            { name: 'configOperation', type: 'int8', versions: '0+' },
            { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
          ],
        },
      ],
    },
    { name: 'validateOnly', type: 'bool', versions: '0+' },
  ],
} as const satisfies MessageSchema;

export const incrementalAlterConfigsResponse = {
  name: 'IncrementalAlterConfigsResponse',
  apiKey: 44,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    {
      name: 'responses', type: '[]struct', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
        { name: 'resourceType', type: 'int8', versions: '0+' },
        { name: 'resourceName', type: 'string', versions: '0+' },
      ],
    },
  ],
} as const satisfies MessageSchema;

export type IncrementalAlterConfigsRequest = KafkaMessage<typeof incrementalAlterConfigsRequest>;
export type IncrementalAlterConfigsRequestInput = KafkaMessageInput<typeof incrementalAlterConfigsRequest>;
export type IncrementalAlterConfigsResponse = KafkaMessage<typeof incrementalAlterConfigsResponse>;
export type IncrementalAlterConfigsResponseInput = KafkaMessageInput<typeof incrementalAlterConfigsResponse>;
