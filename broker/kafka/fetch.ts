/**
 * Fetch: decoded, handed to the fetch service (long poll, zero-copy reads up to the high
 * watermark), answered with the record slices spliced into the response as they lie in the
 * mapped segments. read_committed (isolation_level 1, v4+) reads up to the last stable offset
 * and lists the aborted transactions overlapping the records returned, for the client to drop
 * their batches; read_uncommitted reads up to the high watermark and gets a null list.
 *
 * Fetch sessions (KIP-227) are not kept: every answer has session id 0, which tells the client
 * to send full fetch requests; a request naming a session gets FETCH_SESSION_ID_NOT_FOUND.
 * From v13 topics are named by id. A Kafka fetch is always a consumer's (Sluice brokers
 * replicate over their own protocol), whatever replica id it carries.
 */
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';
import { fetchRequest, fetchResponse } from '../../proto/kafka/messages/fetch.js';
import { type FetchTopic, IsolationLevel } from '../../proto/messages.js';
import { fetchRecords } from '../services/fetch.js';
import { kafkaResultError } from './errors.js';
import { kafkaHandler } from './handler.js';

const noRecords = Buffer.alloc(0);
const { FETCH_SESSION_ID_NOT_FOUND: fetchSessionIdNotFound, UNKNOWN_TOPIC_ID: unknownTopicId } = kafkaErrorCodes;
/** Kafka's default fetch.max.bytes per partition when a request says 0. */
const partitionBytesDefault = 1024 * 1024;

export const fetchHandler = kafkaHandler({
  name: 'Fetch',
  request: fetchRequest,
  response: fetchResponse,
  async handle(request, { version, broker }) {
    if (request.sessionId !== 0) {
      return { throttleTimeMs: 0, errorCode: fetchSessionIdNotFound, sessionId: 0, responses: [] };
    }
    const byId = version >= 13;
    const named = request.topics.map((topic) => ({ topic, name: byId ? broker.cluster.topicName(topic.topicId) : topic.topic }));
    const known: FetchTopic[] = [];
    for (const { topic, name } of named) {
      if (name === undefined) continue;
      known.push({
        name,
        partitions: topic.partitions.map((partition) => ({
          partition: partition.partition, fetchOffset: partition.fetchOffset,
          maxBytes: partition.partitionMaxBytes > 0 ? partition.partitionMaxBytes : partitionBytesDefault,
          currentLeaderEpoch: partition.currentLeaderEpoch,
        })),
      });
    }
    // A topic id nobody has must reach the client now, not after a long poll; and in Kafka,
    // min bytes 0 means "answer at once, even with nothing".
    const answerNow = known.length < named.length || request.minBytes <= 0;
    const outcome = await fetchRecords(broker, {
      maxWaitMs: answerNow ? 0 : request.maxWaitMs, minBytes: request.minBytes, maxBytes: request.maxBytes, replicaId: -1, topics: known,
      isolationLevel: request.isolationLevel,
    });
    const readCommitted = request.isolationLevel === IsolationLevel.READ_COMMITTED;
    let next = 0;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: named.map(({ topic, name }) => {
        if (name === undefined) {
          return {
            topic: '', topicId: topic.topicId,
            partitions: topic.partitions.map((partition) => ({
              partitionIndex: partition.partition, errorCode: unknownTopicId, highWatermark: -1, abortedTransactions: null, records: noRecords,
            })),
          };
        }
        const read = outcome[next++]!;
        return {
          topic: name, topicId: topic.topicId,
          partitions: read.partitions.map(({ result, slices, bytes }) => ({
            partitionIndex: result.partition,
            errorCode: kafkaResultError(result, 'partition').errorCode,
            highWatermark: result.highWatermark,
            lastStableOffset: result.lastStableOffset ?? result.highWatermark,
            logStartOffset: result.logStartOffset,
            ...(result.currentLeader ? { currentLeader: result.currentLeader } : {}),
            abortedTransactions: readCommitted ? (result.abortedTransactions ?? []) : null,
            preferredReadReplica: -1,
            records: bytes > 0 ? slices : noRecords,
          })),
        };
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    errorCode: error.errorCode,
    sessionId: 0,
    responses: request.topics.map((topic) => ({
      topic: topic.topic, topicId: topic.topicId,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partition, errorCode: error.errorCode, highWatermark: -1, abortedTransactions: null, records: noRecords,
      })),
    })),
  }),
});
