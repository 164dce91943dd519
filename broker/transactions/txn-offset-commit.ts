/**
 * TxnOffsetCommit, served by the group's coordinator: the offsets a transactional producer
 * commits for a consumer group as part of its transaction. They are written to the group's
 * `__consumer_offsets` partition as the producer's transactional records and become the group's
 * committed offsets only when the transaction commits (groups/offset-store.ts).
 *
 * As Kafka (KIP-447) does, a request with a generation and member id is checked against the
 * group's current generation, so a zombie member's transaction cannot commit offsets; one with
 * generation -1 and no member id (older clients, KafkaJS) is not.
 */
import { SluiceError } from '../../proto/errors.js';
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemError, itemResult } from '../api/item-result.js';
import { checkGroupId } from '../services/groups.js';

export async function txnOffsetCommit(context: BrokerContext, request: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResponse['topics']> {
  checkGroupId(request.groupId);
  context.offsets.checkCoordinator(request.groupId);
  if (request.generationId !== -1 || request.memberId !== '') context.groups.checkCommit(request.groupId, request.generationId, request.memberId);
  const accepted: Array<{ topic: string; partition: number; offset: number; metadata: string }> = [];
  const topics = request.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((entry) => itemResult(context, { api: 'TxnOffsetCommit', topic: topic.name, partition: entry.partition }, () => ({ partition: entry.partition, errorCode: 0, errorMessage: '' }), () => {
      context.topics.partition(topic.name, entry.partition);
      if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) {
        throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `offset ${entry.offset} for ${topic.name}/${entry.partition} is not a non-negative integer`);
      }
      accepted.push({ topic: topic.name, partition: entry.partition, offset: entry.offset, metadata: entry.metadata ?? '' });
      return { partition: entry.partition, errorCode: 0, errorMessage: '' };
    })),
  }));
  try {
    await context.offsets.commitTransactional(request.groupId, request.producerId, request.producerEpoch, accepted);
  } catch (error) {
    const failed = itemError(context, { api: 'TxnOffsetCommit' }, error);
    for (const topic of topics) for (const result of topic.partitions) if (result.errorCode === 0) Object.assign(result, failed);
  }
  return topics;
}
