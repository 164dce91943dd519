/**
 * InitProducerId with a transactional id: the transaction coordinator's part (issue 12, H3).
 * Until it exists such a producer is refused, as before; this file is what it replaces.
 */
import { SluiceError } from '../../proto/errors.js';
import type { InitProducerIdRequest } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';

export async function initTransactionalProducer(_context: BrokerContext, request: InitProducerIdRequest): Promise<{ producerId: number; producerEpoch: number }> {
  throw new SluiceError('SLUICE_ERR_UNSUPPORTED_VERSION', `transactions are not supported yet (transactional id ${JSON.stringify(request.transactionalId)}); use an idempotent or plain producer`);
}
