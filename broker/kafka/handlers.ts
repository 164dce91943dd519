/** Every Kafka API handler of the listener, by API key (ApiVersions is the protocol's own). */
import {
  createPartitionsHandler, createTopicsHandler, deleteRecordsHandler, deleteTopicsHandler, describeClusterHandler, describeConfigsHandler,
  incrementalAlterConfigsHandler,
} from './admin.js';
import { fetchHandler } from './fetch.js';
import {
  deleteGroupsHandler, describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, joinGroupHandler, leaveGroupHandler, listGroupsHandler,
  offsetCommitHandler, offsetFetchHandler, syncGroupHandler,
} from './groups.js';
import type { KafkaHandler } from './handler.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import { initProducerIdHandler, offsetForLeaderEpochHandler } from './partitions.js';
import { produceHandler } from './produce.js';
import {
  addOffsetsToTxnHandler, addPartitionsToTxnHandler, describeTransactionsHandler, endTxnHandler, listTransactionsHandler, txnOffsetCommitHandler,
} from './transactions.js';
import { writeTxnMarkersHandler } from './txn-markers.js';

const all: KafkaHandler[] = [
  produceHandler, fetchHandler, listOffsetsHandler, metadataHandler,
  findCoordinatorHandler, joinGroupHandler, syncGroupHandler, heartbeatHandler, leaveGroupHandler,
  offsetCommitHandler, offsetFetchHandler, listGroupsHandler, describeGroupsHandler, deleteGroupsHandler,
  createTopicsHandler, deleteTopicsHandler, createPartitionsHandler, deleteRecordsHandler, describeConfigsHandler, incrementalAlterConfigsHandler,
  describeClusterHandler, offsetForLeaderEpochHandler, initProducerIdHandler, writeTxnMarkersHandler,
  addPartitionsToTxnHandler, addOffsetsToTxnHandler, endTxnHandler, txnOffsetCommitHandler, describeTransactionsHandler, listTransactionsHandler,
];

export const kafkaHandlers: ReadonlyMap<number, KafkaHandler> = new Map(all.map((handler) => [handler.request.apiKey, handler]));
