/**
 * InitProducerId with a transactional id: the transaction coordinator's part. Both listeners'
 * InitProducerId (broker/services/producer-ids.ts) call this for a non-empty transactional id:
 * a producer id and a bumped epoch, fencing older instances of the producer.
 */
import type { InitProducerIdRequest } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';

export async function initTransactionalProducer(context: BrokerContext, request: InitProducerIdRequest): Promise<{ producerId: number; producerEpoch: number }> {
  return await context.transactions.initProducer({
    transactionalId: request.transactionalId ?? '',
    transactionTimeoutMs: request.transactionTimeoutMs ?? 0,
    producerId: request.producerId ?? -1,
    producerEpoch: request.producerEpoch ?? -1,
  });
}
