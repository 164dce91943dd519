/**
 * Frames a fetch response without copying record bytes: every field but `records` is encoded
 * by protobufjs, while the records field is written as its tag and length followed by the
 * slices of the mapped segments themselves. The result is a list of buffers for one corked
 * socket write (writev), laid out exactly as protobuf would have encoded the whole message:
 *
 *   Response { 1: correlation_id, 15: fetch { 1: topics { 1: name, 2: partitions {
 *     1..9: partition fields (8 last_stable_offset, 9 aborted_transactions), 15: records } } } }
 *
 * Records stay the last field, so every other one (the read_committed ones included) goes in
 * the protobufjs-encoded head.
 */
import { FetchPartitionResultType, uvarint, uvarintSize } from '../../proto/wire.js';
import type { FetchTopicOutput } from '../services/fetch.js';

const tag = (field: number, wireType: number) => uvarint((field << 3) | wireType);
const lengthDelimited = 2;
const varintType = 0;
const recordsTag = tag(15, lengthDelimited);
const partitionsTag = tag(2, lengthDelimited);
const nameTag = tag(1, lengthDelimited);
const topicsTag = tag(1, lengthDelimited);
const fetchTag = tag(15, lengthDelimited);
const correlationTag = tag(1, varintType);

export function encodeFetchResponse(correlationId: number, topics: FetchTopicOutput[]): Buffer[] {
  const parts: Buffer[] = [];
  let fetchBytes = 0;
  const topicParts: Buffer[][] = [];
  for (const topic of topics) {
    const name = Buffer.from(topic.name);
    const inner: Buffer[] = [nameTag, uvarint(name.length), name];
    let topicBytes = nameTag.length + uvarintSize(name.length) + name.length;
    for (const partition of topic.partitions) {
      const head = Buffer.from(FetchPartitionResultType.encode(FetchPartitionResultType.fromObject(partition.result)).finish());
      const recordsLength = uvarint(partition.bytes);
      const partitionBytes = head.length + (partition.bytes > 0 ? recordsTag.length + recordsLength.length + partition.bytes : 0);
      inner.push(partitionsTag, uvarint(partitionBytes), head);
      if (partition.bytes > 0) inner.push(recordsTag, recordsLength, ...partition.slices);
      topicBytes += partitionsTag.length + uvarintSize(partitionBytes) + partitionBytes;
    }
    topicParts.push([topicsTag, uvarint(topicBytes), ...inner]);
    fetchBytes += topicsTag.length + uvarintSize(topicBytes) + topicBytes;
  }
  const correlation = Buffer.concat([correlationTag, uvarint(correlationId)]);
  const messageBytes = correlation.length + fetchTag.length + uvarintSize(fetchBytes) + fetchBytes;
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(messageBytes, 0);
  parts.push(length, correlation, fetchTag, uvarint(fetchBytes));
  for (const topic of topicParts) parts.push(...topic);
  return parts;
}
