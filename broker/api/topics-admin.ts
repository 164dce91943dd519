/**
 * CreateTopics and DeleteTopics, per topic. In a cluster the controller does the work (placement,
 * partition states in etcd); another broker answers NOT_CONTROLLER and the client goes there.
 */
import { Api, type CreateTopicsRequest, type DeleteTopicsRequest } from '../../proto/messages.js';
import type { ApiHandler } from './context.js';
import { itemResultAsync } from './item-result.js';

export const createTopicsHandler: ApiHandler = {
  api: Api.CREATE_TOPICS,
  name: 'CreateTopics',
  bodyField: 'createTopics',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    const body = request.createTopics as CreateTopicsRequest;
    const validateOnly = body.validateOnly === true;
    const topics = await Promise.all(body.topics.map((topic) => itemResultAsync(context, { api: 'CreateTopics', topic: topic.name },
      () => ({ name: topic.name, errorCode: 0, errorMessage: '' }), async () => {
        await context.cluster.createTopic(topic, validateOnly);
        if (!validateOnly) {
          context.logger.info({ topic: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor, configs: topic.configs }, 'topic created');
        }
        return { name: topic.name, errorCode: 0, errorMessage: '' };
      })));
    return { kind: 'body', body: { topics } };
  },
};

export const deleteTopicsHandler: ApiHandler = {
  api: Api.DELETE_TOPICS,
  name: 'DeleteTopics',
  bodyField: 'deleteTopics',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    const body = request.deleteTopics as DeleteTopicsRequest;
    const topics = await Promise.all(body.topics.map((name) => itemResultAsync(context, { api: 'DeleteTopics', topic: name },
      () => ({ name, errorCode: 0, errorMessage: '' }), async () => {
        await context.cluster.deleteTopic(name);
        context.logger.info({ topic: name }, 'topic deleted');
        return { name, errorCode: 0, errorMessage: '' };
      })));
    return { kind: 'body', body: { topics } };
  },
};
