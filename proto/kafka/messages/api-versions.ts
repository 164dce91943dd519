/**
 * ApiVersions (API key 18). Its response always goes out with response header v0, even in
 * flexible versions, so a client can read it before it knows which versions the broker speaks;
 * a request of a version the broker does not know is answered UNSUPPORTED_VERSION in the v0
 * layout, still listing the broker's ranges (apis.ts). v3 is the first flexible version and
 * adds the client's software name and version; v4 allows features with min version 0.
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const apiVersionsRequest = {
  name: 'ApiVersionsRequest',
  apiKey: 18,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'clientSoftwareName', type: 'string', versions: '3+' },
    { name: 'clientSoftwareVersion', type: 'string', versions: '3+' },
  ],
} as const satisfies MessageSchema;

export const apiVersionsResponse = {
  name: 'ApiVersionsResponse',
  apiKey: 18,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    {
      name: 'apiKeys', type: '[]struct', versions: '0+', fields: [
        { name: 'apiKey', type: 'int16', versions: '0+' },
        { name: 'minVersion', type: 'int16', versions: '0+' },
        { name: 'maxVersion', type: 'int16', versions: '0+' },
      ],
    },
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    {
      name: 'supportedFeatures', type: '[]struct', versions: '3+', tag: 0, taggedVersions: '3+', fields: [
        { name: 'name', type: 'string', versions: '3+' },
        { name: 'minVersion', type: 'int16', versions: '3+' },
        { name: 'maxVersion', type: 'int16', versions: '3+' },
      ],
    },
    { name: 'finalizedFeaturesEpoch', type: 'int64', versions: '3+', tag: 1, taggedVersions: '3+', default: -1 },
    {
      name: 'finalizedFeatures', type: '[]struct', versions: '3+', tag: 2, taggedVersions: '3+', fields: [
        { name: 'name', type: 'string', versions: '3+' },
        { name: 'maxVersionLevel', type: 'int16', versions: '3+' },
        { name: 'minVersionLevel', type: 'int16', versions: '3+' },
      ],
    },
    { name: 'zkMigrationReady', type: 'bool', versions: '3+', tag: 3, taggedVersions: '3+', default: false },
  ],
} as const satisfies MessageSchema;

export type ApiVersionsRequest = KafkaMessage<typeof apiVersionsRequest>;
export type ApiVersionsRequestInput = KafkaMessageInput<typeof apiVersionsRequest>;
export type ApiVersionsResponse = KafkaMessage<typeof apiVersionsResponse>;
export type ApiVersionsResponseInput = KafkaMessageInput<typeof apiVersionsResponse>;
