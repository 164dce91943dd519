import { Api, type CreateTopicsRequest, type DeleteTopicsRequest } from '../../proto/messages.js';
import { checkNotInternal } from '../topics/topic-name.js';
import type { ApiHandler } from './context.js';
import { itemResult } from './item-result.js';

export const createTopicsHandler: ApiHandler = {
  api: Api.CREATE_TOPICS,
  name: 'CreateTopics',
  bodyField: 'createTopics',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context) {
    const body = request.createTopics as CreateTopicsRequest;
    const topics = body.topics.map((topic) => itemResult(context, { api: 'CreateTopics', topic: topic.name }, () => ({ name: topic.name, errorCode: 0, errorMessage: '' }), () => {
      context.topics.create(topic.name, topic.partitions, { ...(topic.configs ?? {}) }, body.validateOnly);
      if (!body.validateOnly) context.logger.info({ topic: topic.name, partitions: topic.partitions, configs: topic.configs }, 'topic created');
      return { name: topic.name, errorCode: 0, errorMessage: '' };
    }));
    return { kind: 'body', body: { topics } };
  },
};

export const deleteTopicsHandler: ApiHandler = {
  api: Api.DELETE_TOPICS,
  name: 'DeleteTopics',
  bodyField: 'deleteTopics',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context) {
    const body = request.deleteTopics as DeleteTopicsRequest;
    const topics = body.topics.map((name) => itemResult(context, { api: 'DeleteTopics', topic: name }, () => ({ name, errorCode: 0, errorMessage: '' }), () => {
      checkNotInternal(name, 'delete');
      context.topics.delete(name);
      context.logger.info({ topic: name }, 'topic deleted');
      return { name, errorCode: 0, errorMessage: '' };
    }));
    return { kind: 'body', body: { topics } };
  },
};
