/**
 * OffsetForLeaderEpoch (clients check their position after a leader change, KIP-320) and
 * InitProducerId (idempotent producers ask for an id before producing), over their services.
 */
import { initProducerIdRequest, initProducerIdResponse } from '../../proto/kafka/messages/init-producer-id.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from '../../proto/kafka/messages/offset-for-leader-epoch.js';
import { offsetsForLeaderEpoch } from '../services/offsets-for-leader-epoch.js';
import { initProducerId } from '../services/producer-ids.js';
import { kafkaResultError } from './errors.js';
import { kafkaHandler } from './handler.js';
import { fencedForVersion } from './transactions.js';

export const offsetForLeaderEpochHandler = kafkaHandler({
  name: 'OffsetForLeaderEpoch',
  request: offsetForLeaderEpochRequest,
  response: offsetForLeaderEpochResponse,
  handle(request, { broker }) {
    const results = offsetsForLeaderEpoch(broker, {
      topics: request.topics.map((topic) => ({
        name: topic.topic,
        partitions: topic.partitions.map((partition) => ({ partition: partition.partition, currentLeaderEpoch: partition.currentLeaderEpoch, leaderEpoch: partition.leaderEpoch })),
      })),
    });
    return {
      throttleTimeMs: 0,
      topics: results.map((topic) => ({
        topic: topic.name,
        partitions: topic.partitions.map((result) => ({
          errorCode: kafkaResultError(result, 'partition').errorCode, partition: result.partition, leaderEpoch: result.leaderEpoch, endOffset: result.endOffset,
        })),
      })),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      topic: topic.topic, partitions: topic.partitions.map((partition) => ({ errorCode: error.errorCode, partition: partition.partition, leaderEpoch: -1, endOffset: -1 })),
    })),
  }),
});

/**
 * An id for an idempotent producer from this broker's block; a transactional id goes to its
 * coordinator (broker/transactions/). PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v4, as Kafka answers.
 */
export const initProducerIdHandler = kafkaHandler({
  name: 'InitProducerId',
  request: initProducerIdRequest,
  response: initProducerIdResponse,
  scope: 'coordinator',
  async handle(request, { broker }) {
    const producerId = request.producerId < 0 ? null : request.producerId;
    const producerEpoch = request.producerEpoch < 0 ? null : request.producerEpoch;
    const answer = await initProducerId(broker, {
      transactionalId: request.transactionalId ?? '', transactionTimeoutMs: request.transactionTimeoutMs, producerId, producerEpoch,
    });
    return { throttleTimeMs: 0, errorCode: 0, ...answer };
  },
  failed: (_request, error, { version }) => ({ throttleTimeMs: 0, errorCode: fencedForVersion(error.errorCode, version, 4), producerId: -1, producerEpoch: -1 }),
});
