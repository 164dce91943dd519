/**
 * DescribeCluster (API key 60), flexible from v0. v1 adds the endpoint type (1 = brokers,
 * 2 = controllers).
 */
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../schema.js';

export const describeClusterRequest = {
  name: 'DescribeClusterRequest',
  apiKey: 60,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: '0+' },
    { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
  ],
} as const satisfies MessageSchema;

export const describeClusterResponse = {
  name: 'DescribeClusterResponse',
  apiKey: 60,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
    { name: 'clusterId', type: 'string', versions: '0+' },
    { name: 'controllerId', type: 'int32', versions: '0+', default: -1 },
    {
      name: 'brokers', type: '[]struct', versions: '0+', fields: [
        { name: 'brokerId', type: 'int32', versions: '0+' },
        { name: 'host', type: 'string', versions: '0+' },
        { name: 'port', type: 'int32', versions: '0+' },
        { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      ],
    },
    { name: 'clusterAuthorizedOperations', type: 'int32', versions: '0+', default: -2147483648 },
  ],
} as const satisfies MessageSchema;

export type DescribeClusterRequest = KafkaMessage<typeof describeClusterRequest>;
export type DescribeClusterRequestInput = KafkaMessageInput<typeof describeClusterRequest>;
export type DescribeClusterResponse = KafkaMessage<typeof describeClusterResponse>;
export type DescribeClusterResponseInput = KafkaMessageInput<typeof describeClusterResponse>;
