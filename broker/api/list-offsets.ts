import { Api, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type ListOffsetsRequest } from '../../proto/messages.js';
import type { ApiHandler } from './context.js';
import { itemResult } from './item-result.js';

/** ListOffsets: the log end (-1), the log start (-2), or the first offset at or after a time. */
export const listOffsetsHandler: ApiHandler = {
  api: Api.LIST_OFFSETS,
  name: 'ListOffsets',
  bodyField: 'listOffsets',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context) {
    const body = request.listOffsets as ListOffsetsRequest;
    const topics = body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((wanted) => itemResult(context, { api: 'ListOffsets', topic: topic.name, partition: wanted.partition },
        () => ({ partition: wanted.partition, errorCode: 0, errorMessage: '', offset: -1, timestamp: -1 }), () => {
          const { log } = context.topics.partition(topic.name, wanted.partition);
          if (wanted.timestamp === LATEST_TIMESTAMP) return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: log.logEndOffset, timestamp: -1 };
          if (wanted.timestamp === EARLIEST_TIMESTAMP) return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: log.logStartOffset, timestamp: -1 };
          const found = log.offsetForTimestamp(wanted.timestamp);
          return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: found?.offset ?? -1, timestamp: found?.timestamp ?? -1 };
        })),
    }));
    return { kind: 'body', body: { topics } };
  },
};
