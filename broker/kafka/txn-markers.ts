/**
 * WriteTxnMarkers (API 27): a transaction coordinator's markers for the partitions this broker
 * leads, appended and replicated by the txn-markers service; each partition answers its error.
 */
import { writeTxnMarkersRequest, writeTxnMarkersResponse } from '../../proto/kafka/messages/write-txn-markers.js';
import { writeTxnMarkers } from '../services/txn-markers.js';
import { kafkaResultError } from './errors.js';
import { kafkaHandler } from './handler.js';

export const writeTxnMarkersHandler = kafkaHandler({
  name: 'WriteTxnMarkers',
  request: writeTxnMarkersRequest,
  response: writeTxnMarkersResponse,
  async handle(request, { broker }) {
    const response = await writeTxnMarkers(broker, {
      markers: request.markers.map((marker) => ({
        producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.transactionResult, coordinatorEpoch: marker.coordinatorEpoch,
        topics: marker.topics.map((topic) => ({ name: topic.name, partitions: topic.partitionIndexes })),
      })),
    });
    return {
      markers: response.markers.map((marker) => ({
        producerId: marker.producerId,
        topics: marker.topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map((result) => ({ partitionIndex: result.partition, errorCode: kafkaResultError(result, 'partition').errorCode })),
        })),
      })),
    };
  },
  failed: (request, error) => ({
    markers: request.markers.map((marker) => ({
      producerId: marker.producerId,
      topics: marker.topics.map((topic) => ({
        name: topic.name, partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: error.errorCode })),
      })),
    })),
  }),
});
