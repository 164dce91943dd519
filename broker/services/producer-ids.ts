/**
 * InitProducerId: hands out a producer id (epoch 0) so idempotent Kafka producers, which ask
 * for one before their first produce, can start. Sluice does not check their sequence numbers
 * yet (exactly-once is issue 12): the batches are stored as they come, producer id and
 * sequences included, so nothing needs rewriting when it does. Ids are this broker's node id
 * in the high bits and the clock at start plus a counter below, so they stay unique across the
 * cluster and across restarts. Transactions are not served: a transactional id is refused.
 */
import { SluiceError } from '../../proto/errors.js';
import type { BrokerContext } from '../api/context.js';

/** Ids below 2^53, as numbers: 2^13 node ids × 2^40 values each. */
const idsPerBroker = 2 ** 40;
let next = Date.now() % idsPerBroker;

export function initProducerId(context: BrokerContext, transactionalId: string | null): { producerId: number; producerEpoch: number } {
  if (transactionalId !== null && transactionalId !== '') {
    throw new SluiceError('SLUICE_ERR_UNSUPPORTED_VERSION', `transactions are not supported yet (transactional id ${JSON.stringify(transactionalId)}); use an idempotent or plain producer`);
  }
  next = (next + 1) % idsPerBroker;
  return { producerId: (context.settings.nodeId % 2 ** 13) * idsPerBroker + next, producerEpoch: 0 };
}
