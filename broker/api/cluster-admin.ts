/** DescribeCluster and ElectLeaders: what `sluice cluster brokers` and `elect-leaders` ask. */
import { Api, type ElectLeadersRequest } from '../../proto/messages.js';
import type { ApiHandler } from './context.js';

export const describeClusterHandler: ApiHandler = {
  api: Api.DESCRIBE_CLUSTER,
  name: 'DescribeCluster',
  bodyField: 'describeCluster',
  minVersion: 1,
  maxVersion: 1,
  handle(_request, context) {
    return { kind: 'body', body: context.cluster.describeCluster() };
  },
};

export const electLeadersHandler: ApiHandler = {
  api: Api.ELECT_LEADERS,
  name: 'ElectLeaders',
  bodyField: 'electLeaders',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    return { kind: 'body', body: await context.cluster.electLeaders(request.electLeaders as ElectLeadersRequest) };
  },
};
