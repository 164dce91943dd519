/**
 * Storage failures as typed errors: a failed system call becomes SLUICE_ERR_STORAGE (retriable,
 * Kafka's KAFKA_STORAGE_ERROR) whose message names the file and the errno, so an operator
 * reading a produce error or the log sees "EMFILE" or "ENOSPC" without digging.
 */
import { SluiceError } from '../../proto/errors.js';

/** The errno name of a failed system call (EMFILE, ENOSPC…), or its message. */
export function errnoOf(error: unknown): string {
  if (SluiceError.is(error)) return error.detail;
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** `what` failed because of `cause`. */
export function storageError(what: string, cause: unknown): SluiceError {
  return new SluiceError('SLUICE_ERR_STORAGE', `${what}: ${errnoOf(cause)}`, { cause });
}

/** Runs one storage step; whatever it throws comes out as a storage error about `what`. */
export function storageStep<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (cause) {
    throw storageError(what, cause);
  }
}
