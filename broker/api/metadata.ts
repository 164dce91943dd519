import { Api, type MetadataRequest, type TopicMetadata } from '../../proto/messages.js';
import type { Topic } from '../topics/topic-manager.js';
import type { ApiHandler, BrokerContext } from './context.js';
import { itemResult } from './item-result.js';

function describe(topic: Topic, nodeId: number): TopicMetadata {
  return {
    name: topic.record.name,
    errorCode: 0,
    errorMessage: '',
    partitions: topic.partitions.map((partition) => ({ partition: partition.index, errorCode: 0, leader: nodeId, replicas: [nodeId], isr: [nodeId] })),
  };
}

export const metadataHandler: ApiHandler = {
  api: Api.METADATA,
  name: 'Metadata',
  bodyField: 'metadata',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context: BrokerContext) {
    const body = request.metadata as MetadataRequest;
    const { nodeId, advertisedHost, advertisedPort } = context.settings;
    const names = body.topics ?? [];
    const topics = names.length === 0
      ? context.topics.topics().map((topic) => describe(topic, nodeId))
      : names.map((name) => itemResult(context, { api: 'Metadata', topic: name }, (): TopicMetadata => ({ name, errorCode: 0, errorMessage: '', partitions: [] }),
        () => describe(context.topicOrAutoCreate(name) ?? context.topics.get(name), nodeId)));
    return {
      kind: 'body',
      body: { brokers: [{ nodeId, host: advertisedHost, port: advertisedPort }], topics, controllerId: nodeId },
    };
  },
};
