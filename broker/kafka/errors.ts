/**
 * Sluice errors in Kafka's numbers. Sluice's wire codes already are Kafka's where Kafka has the
 * same error (proto/errors.ts), so those pass through; Sluice's own (1000+) become the Kafka
 * error a Kafka client handles the same way: retriable ones stay retriable, and where the right
 * answer depends on what was asked (a partition's log closing means "go to the leader again", a
 * coordinator stopping means "find the coordinator again"), the scope decides.
 */
import { errorCodes, errorToWire } from '../../proto/errors.js';
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';

/** What an error is about: a partition's data, a group or transactional coordinator, or an admin operation. */
export type ErrorScope = 'partition' | 'coordinator' | 'admin';

const {
  UNKNOWN_SERVER_ERROR: unknownServerError, NOT_LEADER_OR_FOLLOWER: notLeaderOrFollower, REQUEST_TIMED_OUT: requestTimedOut,
  COORDINATOR_NOT_AVAILABLE: coordinatorNotAvailable, UNSUPPORTED_VERSION: unsupportedVersion, INVALID_CONFIG: invalidConfig,
  INVALID_REQUEST: invalidRequest, KAFKA_STORAGE_ERROR: kafkaStorageError,
} = kafkaErrorCodes;

/** Kafka's number for a Sluice wire code. */
export function kafkaErrorCode(sluiceWire: number, scope: ErrorScope): number {
  if (sluiceWire < 1000) return sluiceWire;
  switch (sluiceWire) {
    case errorCodes.SLUICE_ERR_STORAGE.wire:
      return kafkaStorageError;
    case errorCodes.SLUICE_ERR_LOG_CLOSED.wire:
    case errorCodes.SLUICE_ERR_BROKER_SHUTTING_DOWN.wire:
      return scope === 'partition' ? notLeaderOrFollower : scope === 'coordinator' ? coordinatorNotAvailable : requestTimedOut;
    case errorCodes.SLUICE_ERR_METADATA_STORE.wire:
      return scope === 'coordinator' ? coordinatorNotAvailable : requestTimedOut;
    case errorCodes.SLUICE_ERR_CONFIG.wire:
      return invalidConfig;
    case errorCodes.SLUICE_ERR_UNKNOWN_API.wire:
      return unsupportedVersion;
    case errorCodes.SLUICE_ERR_TOO_MANY_REQUESTS.wire:
      return requestTimedOut;
    case errorCodes.SLUICE_ERR_FRAME_TOO_LARGE.wire:
    case errorCodes.SLUICE_ERR_MALFORMED_FRAME.wire:
      return invalidRequest;
    default:
      return unknownServerError;
  }
}

export interface KafkaError {
  errorCode: number;
  /** Shown by clients that print it (nullable in Kafka's messages; empty here when there is none). */
  errorMessage: string;
}

/** A thrown error in Kafka's terms. Errors that are not SluiceErrors are bugs: the caller logs them. */
export function kafkaError(error: unknown, scope: ErrorScope): KafkaError {
  const wire = errorToWire(error);
  return { errorCode: kafkaErrorCode(wire.errorCode, scope), errorMessage: wire.errorMessage };
}

/** A result's Sluice error fields (errorCode, errorMessage) in Kafka's terms. */
export function kafkaResultError(result: { errorCode: number; errorMessage?: string }, scope: ErrorScope): KafkaError {
  return { errorCode: kafkaErrorCode(result.errorCode, scope), errorMessage: result.errorMessage ?? '' };
}
