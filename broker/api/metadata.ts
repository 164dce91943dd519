/**
 * Metadata: the live brokers, the controller, and per partition its leader, leader epoch,
 * replicas, in-sync replicas and the replicas whose broker is down, as the cluster knows them
 * (on a single broker: itself for everything).
 */
import { SluiceError } from '../../proto/errors.js';
import { Api, type MetadataRequest, type TopicMetadata } from '../../proto/messages.js';
import type { ApiHandler, BrokerContext } from './context.js';
import { itemResult } from './item-result.js';

function describe(context: BrokerContext, name: string): TopicMetadata {
  const partitions = context.cluster.describeTopic(name);
  if (partitions === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${JSON.stringify(name)}`);
  return { name, errorCode: 0, errorMessage: '', partitions };
}

export const metadataHandler: ApiHandler = {
  api: Api.METADATA,
  name: 'Metadata',
  bodyField: 'metadata',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context: BrokerContext) {
    const body = request.metadata as MetadataRequest;
    const names = body.topics ?? [];
    const topics = names.length === 0
      ? context.cluster.topicNames().map((name) => describe(context, name))
      : names.map((name) => itemResult(context, { api: 'Metadata', topic: name }, (): TopicMetadata => ({ name, errorCode: 0, errorMessage: '', partitions: [] }), () => {
        context.topicOrAutoCreate(name);
        return describe(context, name);
      }));
    return {
      kind: 'body',
      body: { brokers: context.cluster.brokers(), topics, controllerId: context.cluster.controllerId(), clusterId: context.cluster.clusterId },
    };
  },
};
