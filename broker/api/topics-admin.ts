/** CreateTopics and DeleteTopics on the native protocol: the topic admin services answer. */
import { Api, type CreateTopicsRequest, type DeleteTopicsRequest } from '../../proto/messages.js';
import { createTopics, deleteTopics } from '../services/topics-admin.js';
import type { ApiHandler } from './context.js';

export const createTopicsHandler: ApiHandler = {
  api: Api.CREATE_TOPICS,
  name: 'CreateTopics',
  bodyField: 'createTopics',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    const body = request.createTopics as CreateTopicsRequest;
    return { kind: 'body', body: { topics: await createTopics(context, body.topics, body.validateOnly === true) } };
  },
};

export const deleteTopicsHandler: ApiHandler = {
  api: Api.DELETE_TOPICS,
  name: 'DeleteTopics',
  bodyField: 'deleteTopics',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    return { kind: 'body', body: { topics: await deleteTopics(context, (request.deleteTopics as DeleteTopicsRequest).topics) } };
  },
};
