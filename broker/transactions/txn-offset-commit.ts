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
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { checkGroupId, writeCommits } from '../services/groups.js';

export async function txnOffsetCommit(context: BrokerContext, request: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResponse['topics']> {
  checkGroupId(request.groupId);
  context.offsets.checkCoordinator(request.groupId);
  if (request.generationId !== -1 || request.memberId !== '') context.groups.checkCommit(request.groupId, request.generationId, request.memberId);
  return await writeCommits(context, 'TxnOffsetCommit', request.topics,
    (accepted) => context.offsets.commitTransactional(request.groupId, request.producerId, request.producerEpoch, accepted));
}
