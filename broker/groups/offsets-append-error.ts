/**
 * What a failed append to `__consumer_offsets` means to a group's client, as Kafka's
 * coordinator translates it (GroupMetadataManager#storeOffsets): a lost or fenced leadership
 * means "find the coordinator again" (NOT_COORDINATOR), too few in-sync replicas means "the
 * coordinator cannot take commits now" (COORDINATOR_NOT_AVAILABLE). Either way the client
 * retries the group request rather than handling a partition error it never asked about.
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
};

export function offsetsAppendError(error: unknown, partition: number): unknown {
  if (!SluiceError.is(error)) return error;
  const code = translations[error.code];
  if (code === undefined) return error;
  return new SluiceError(code, `writing to partition ${partition} of ${offsetsTopic} failed: ${error.detail}`, { cause: error });
}
