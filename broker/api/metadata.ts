/**
 * Metadata on the native protocol: the live brokers at their native addresses, the
 * controller, and the topics from the metadata service. No topics asked means every topic.
 */
import { Api, type MetadataRequest } from '../../proto/messages.js';
import { describeTopics } from '../services/metadata.js';
import type { ApiHandler, BrokerContext } from './context.js';

export const metadataHandler: ApiHandler = {
  api: Api.METADATA,
  name: 'Metadata',
  bodyField: 'metadata',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context: BrokerContext) {
    const names = (request.metadata as MetadataRequest).topics ?? [];
    const topics = describeTopics(context, names.length === 0 ? undefined : names);
    return {
      kind: 'body',
      body: { brokers: context.cluster.brokers(), topics, controllerId: context.cluster.controllerId(), clusterId: context.cluster.clusterId },
    };
  },
};
