/**
 * What a failed append to a coordinator's internal topic (`__consumer_offsets`,
 * `__transaction_state`) means to its client, as Kafka's coordinators translate it
 * (GroupMetadataManager#storeOffsets, TransactionStateManager#appendTransactionToLog): a lost or
 * fenced leadership means "find the coordinator again" (NOT_COORDINATOR); too few in-sync
 * replicas or a write not replicated in time means "the coordinator cannot take writes now"
 * (COORDINATOR_NOT_AVAILABLE). Either way the client retries its request rather than handling a
 * partition error it never asked about.
 */
import { type ErrorCode, SluiceError } from '../../proto/errors.js';
import { offsetsTopic } from './offsets-topic.js';

const translations: Partial<Record<ErrorCode, ErrorCode>> = {
  SLUICE_ERR_NOT_LEADER_OR_FOLLOWER: 'SLUICE_ERR_NOT_COORDINATOR',
  SLUICE_ERR_FENCED_LEADER_EPOCH: 'SLUICE_ERR_NOT_COORDINATOR',
  SLUICE_ERR_UNKNOWN_LEADER_EPOCH: 'SLUICE_ERR_NOT_COORDINATOR',
  SLUICE_ERR_NOT_ENOUGH_REPLICAS: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE',
  SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE',
  SLUICE_ERR_LEADER_NOT_AVAILABLE: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE',
  SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE',
  SLUICE_ERR_REQUEST_TIMED_OUT: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE',
  SLUICE_ERR_TIMEOUT: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE',
};

export function internalAppendError(error: unknown, topic: string, partition: number): unknown {
  if (!SluiceError.is(error)) return error;
  const code = translations[error.code];
  if (code === undefined) return error;
  return new SluiceError(code, `writing to partition ${partition} of ${topic} failed: ${error.detail}`, { cause: error });
}

export function offsetsAppendError(error: unknown, partition: number): unknown {
  return internalAppendError(error, offsetsTopic, partition);
}
