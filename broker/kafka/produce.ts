/**
 * Produce (v3+ carries RecordBatch v2, which is what Sluice stores): decoded, handed to the
 * produce service, its per-partition results in Kafka's codes. With acks=0 nothing is answered.
 * Records arrive as subarrays of the request frame and are appended from there. An idempotent
 * producer's batches (producer id and sequences set) are stored as they come; their sequences
 * are not checked yet (issue 12).
 */
import { produceRequest, produceResponse } from '../../proto/kafka/messages/produce.js';
import { produce } from '../services/produce.js';
import { kafkaResultError } from './errors.js';
import { errorMessage, kafkaHandler } from './handler.js';

const noRecords = Buffer.alloc(0);

export const produceHandler = kafkaHandler({
  name: 'Produce',
  request: produceRequest,
  response: produceResponse,
  async handle(request, { broker }) {
    const topics = await produce(broker, {
      acks: request.acks,
      timeoutMs: request.timeoutMs,
      topics: request.topicData.map((topic) => ({
        name: topic.name,
        partitions: topic.partitionData.map((partition) => ({ partition: partition.index, records: partition.records ?? noRecords })),
      })),
    });
    if (request.acks === 0) return undefined;
    return {
      responses: topics.map((topic) => ({
        name: topic.name,
        partitionResponses: topic.partitions.map((result) => {
          const error = kafkaResultError(result, 'partition');
          return {
            index: result.partition, errorCode: error.errorCode, errorMessage: errorMessage(error),
            baseOffset: result.baseOffset, logAppendTimeMs: result.logAppendTimeMs, logStartOffset: result.logStartOffset, recordErrors: [],
          };
        }),
      })),
      throttleTimeMs: 0,
    };
  },
  failed: (request, error) => ({
    responses: request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((partition) => ({
        index: partition.index, errorCode: error.errorCode, errorMessage: errorMessage(error), baseOffset: -1, recordErrors: [],
      })),
    })),
  }),
});
