/**
 * STUB (H3's branch only, replaced by H1's broker/services/txn-markers.ts at merge): the
 * leader side of WriteTxnMarkers, enough for the transaction coordinator to be exercised
 * before H1's partition state lands. Appends a control batch (Kafka's layout: attributes
 * transactional|control, one record with key = version 0 + type, value = version 0 +
 * coordinator epoch) to each named partition this broker leads, waits as acks=all does, and
 * tells the offset store when the partition is one of __consumer_offsets.
 */
import { crc32c } from '@node-rs/crc32';
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type { TxnTopicResult, WriteTxnMarkersRequest, WriteTxnMarkersResponse } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import type { BrokerContext } from '../api/context.js';
import { offsetsTopic } from '../groups/offsets-topic.js';

const ATTRIBUTES_OFFSET = 21;
const CRC_OFFSET = 17;
const CONTROL_MASK = 0x20;

export function buildControlBatch(marker: { producerId: number; producerEpoch: number; committed: boolean; coordinatorEpoch: number; timestamp: number }): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(marker.committed ? 1 : 0, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(marker.coordinatorEpoch, 2);
  const batch = buildRecordBatch([{ key, value, timestamp: marker.timestamp }], {
    producerId: marker.producerId, producerEpoch: marker.producerEpoch, baseSequence: -1, transactional: true,
  });
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | CONTROL_MASK, ATTRIBUTES_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

export async function writeTxnMarkers(context: BrokerContext, request: WriteTxnMarkersRequest): Promise<WriteTxnMarkersResponse> {
  return {
    markers: await Promise.all(request.markers.map(async (marker) => ({
      producerId: marker.producerId,
      topics: await Promise.all(marker.topics.map(async (topic): Promise<TxnTopicResult> => ({
        name: topic.name,
        partitions: await Promise.all(topic.partitions.map(async (index) => {
          try {
            const replica = context.topics.partition(topic.name, index);
            replica.checkLeader();
            const batch = buildControlBatch({ ...marker, timestamp: Date.now() });
            const appended = replica.log.append(batch, { leaderEpoch: replica.leaderEpoch });
            replica.notifyAppend(batch.length);
            const replicated = replica.waitForReplication(appended.lastOffset, 30_000);
            const outcome = replicated === null ? null : await replicated;
            if (outcome !== null) throw new SluiceError(outcome, `marker on ${topic.name}-${index} was not replicated`);
            if (topic.name === offsetsTopic) context.offsets.completeTransaction(index, marker.producerId, marker.committed);
            return { partition: index, errorCode: 0, errorMessage: '' };
          } catch (error) {
            return { partition: index, ...errorToWire(error) };
          }
        })),
      }))),
    }))),
  };
}
