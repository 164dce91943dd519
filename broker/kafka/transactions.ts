/**
 * The transaction APIs on the Kafka listener — AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 * TxnOffsetCommit, DescribeTransactions, ListTransactions — over the transaction services
 * shared with the native listener (broker/transactions/service.ts). InitProducerId's
 * transactional branch is in partitions.ts.
 *
 * PRODUCER_FENCED is newer than some of these versions: as Kafka does, older versions get
 * INVALID_PRODUCER_EPOCH in its place, which their clients handle as fatal the same way.
 */
import { addOffsetsToTxnRequest, addOffsetsToTxnResponse } from '../../proto/kafka/messages/add-offsets-to-txn.js';
import { addPartitionsToTxnRequest, addPartitionsToTxnResponse } from '../../proto/kafka/messages/add-partitions-to-txn.js';
import { describeTransactionsRequest, describeTransactionsResponse } from '../../proto/kafka/messages/describe-transactions.js';
import { endTxnRequest, endTxnResponse } from '../../proto/kafka/messages/end-txn.js';
import { listTransactionsRequest, listTransactionsResponse } from '../../proto/kafka/messages/list-transactions.js';
import { txnOffsetCommitRequest, txnOffsetCommitResponse } from '../../proto/kafka/messages/txn-offset-commit.js';
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';
import { addOffsetsToTxn, addPartitionsToTxn, describeTransactions, endTxn, listTransactions } from '../transactions/service.js';
import { txnOffsetCommit } from '../transactions/txn-offset-commit.js';
import { kafkaResultError } from './errors.js';
import { kafkaHandler } from './handler.js';

/** PRODUCER_FENCED as an older client knows it: Kafka answers INVALID_PRODUCER_EPOCH below these versions. */
export function fencedForVersion(errorCode: number, version: number, firstFencedVersion: number): number {
  return errorCode === kafkaErrorCodes.PRODUCER_FENCED && version < firstFencedVersion ? kafkaErrorCodes.INVALID_PRODUCER_EPOCH : errorCode;
}

export const addPartitionsToTxnHandler = kafkaHandler({
  name: 'AddPartitionsToTxn',
  request: addPartitionsToTxnRequest,
  response: addPartitionsToTxnResponse,
  scope: 'coordinator',
  async handle(request, { version, broker }) {
    const results = await addPartitionsToTxn(broker, {
      transactionalId: request.v3AndBelowTransactionalId, producerId: request.v3AndBelowProducerId, producerEpoch: request.v3AndBelowProducerEpoch,
      topics: request.v3AndBelowTopics.map((topic) => ({ name: topic.name, partitions: [...topic.partitions] })),
    });
    return {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: results.map((topic) => ({
        name: topic.name,
        resultsByPartition: topic.partitions.map((result) => ({
          partitionIndex: result.partition, partitionErrorCode: fencedForVersion(kafkaResultError(result, 'coordinator').errorCode, version, 2),
        })),
      })),
    };
  },
  failed: (request, error, { version }) => ({
    throttleTimeMs: 0,
    resultsByTopicV3AndBelow: request.v3AndBelowTopics.map((topic) => ({
      name: topic.name, resultsByPartition: topic.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: fencedForVersion(error.errorCode, version, 2) })),
    })),
  }),
});

export const addOffsetsToTxnHandler = kafkaHandler({
  name: 'AddOffsetsToTxn',
  request: addOffsetsToTxnRequest,
  response: addOffsetsToTxnResponse,
  scope: 'coordinator',
  async handle(request, { broker }) {
    await addOffsetsToTxn(broker, request);
    return { throttleTimeMs: 0, errorCode: 0 };
  },
  failed: (_request, error, { version }) => ({ throttleTimeMs: 0, errorCode: fencedForVersion(error.errorCode, version, 2) }),
});

export const endTxnHandler = kafkaHandler({
  name: 'EndTxn',
  request: endTxnRequest,
  response: endTxnResponse,
  scope: 'coordinator',
  async handle(request, { broker }) {
    await endTxn(broker, request);
    return { throttleTimeMs: 0, errorCode: 0 };
  },
  failed: (_request, error, { version }) => ({ throttleTimeMs: 0, errorCode: fencedForVersion(error.errorCode, version, 2) }),
});

export const txnOffsetCommitHandler = kafkaHandler({
  name: 'TxnOffsetCommit',
  request: txnOffsetCommitRequest,
  response: txnOffsetCommitResponse,
  scope: 'coordinator',
  async handle(request, { version, broker }) {
    const results = await txnOffsetCommit(broker, {
      transactionalId: request.transactionalId, groupId: request.groupId, producerId: request.producerId, producerEpoch: request.producerEpoch,
      generationId: request.generationId, memberId: request.memberId,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({ partition: partition.partitionIndex, offset: partition.committedOffset, metadata: partition.committedMetadata ?? '' })),
      })),
    });
    return {
      throttleTimeMs: 0,
      topics: results.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((result) => ({ partitionIndex: result.partition, errorCode: fencedForVersion(kafkaResultError(result, 'coordinator').errorCode, version, 2) })),
      })),
    };
  },
  failed: (request, error, { version }) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name, partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: fencedForVersion(error.errorCode, version, 2) })),
    })),
  }),
});

export const describeTransactionsHandler = kafkaHandler({
  name: 'DescribeTransactions',
  request: describeTransactionsRequest,
  response: describeTransactionsResponse,
  scope: 'coordinator',
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      transactionStates: describeTransactions(broker, { transactionalIds: [...request.transactionalIds] }).map((description) => ({
        errorCode: kafkaResultError(description, 'coordinator').errorCode,
        transactionalId: description.transactionalId,
        transactionState: description.state,
        transactionTimeoutMs: description.transactionTimeoutMs,
        transactionStartTimeMs: description.transactionStartTimeMs,
        producerId: description.producerId,
        producerEpoch: description.producerEpoch,
        topics: description.topics.map((topic) => ({ topic: topic.name, partitions: topic.partitions })),
      })),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    transactionStates: request.transactionalIds.map((transactionalId) => ({
      errorCode: error.errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [],
    })),
  }),
});

export const listTransactionsHandler = kafkaHandler({
  name: 'ListTransactions',
  request: listTransactionsRequest,
  response: listTransactionsResponse,
  scope: 'coordinator',
  handle(request, { broker }) {
    const listed = listTransactions(broker, { stateFilters: [...request.stateFilters], producerIdFilters: [...request.producerIdFilters], minDurationMs: request.durationFilter });
    return {
      throttleTimeMs: 0, errorCode: 0, unknownStateFilters: listed.unknownStateFilters,
      transactionStates: listed.transactions.map((entry) => ({ transactionalId: entry.transactionalId, producerId: entry.producerId, transactionState: entry.state })),
    };
  },
  failed: (_request, error) => ({ throttleTimeMs: 0, errorCode: error.errorCode, unknownStateFilters: [], transactionStates: [] }),
});


