/**
 * The error a failed metadata-store call becomes. Apart from the etcd client so that modules of a
 * single broker can name it without loading etcd3 and gRPC (about a second of start-up).
 */
import { SluiceError } from '../../proto/errors.js';

/** What any failed etcd call becomes: a retriable METADATA_STORE error naming the operation. */
export function storeError(what: string, error: unknown): SluiceError {
  if (SluiceError.is(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new SluiceError('SLUICE_ERR_METADATA_STORE', `${what} failed: ${reason}`, { cause: error });
}
