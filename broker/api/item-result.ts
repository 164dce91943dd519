/**
 * One item of a request (a partition of a produce or fetch, a topic of a create): its result,
 * or, when it fails, the error's wire code and message in its place, so one bad partition
 * never fails the others. An error that is not a SluiceError is a bug: the client only learns
 * "internal broker error; see the broker log", so it is logged here with where it happened.
 * Every listener (the native one today, the Kafka one later) builds its answers with these.
 */
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type { BrokerContext } from './context.js';

export interface WireError {
  errorCode: number;
  errorMessage: string;
}

/** The wire form of a failed item's error; unexpected errors are logged with `where`. */
export function itemError(context: BrokerContext, where: Record<string, unknown>, error: unknown): WireError {
  if (!SluiceError.is(error)) context.logger.error({ err: error, ...where }, 'request item failed');
  return errorToWire(error);
}

/** `run()`'s result with no error, or `failed` with the error that `run` threw. */
export function itemResult<T extends object>(
  context: BrokerContext, where: Record<string, unknown>, failed: Omit<T, keyof WireError>, run: () => T,
): T & WireError {
  try {
    return { ...run(), errorCode: 0, errorMessage: '' };
  } catch (error) {
    return { ...failed, ...itemError(context, where, error) } as T & WireError;
  }
}

/** itemResult for items whose work waits (a produce waiting for its sync). */
export async function itemResultAsync<T extends object>(
  context: BrokerContext, where: Record<string, unknown>, failed: Omit<T, keyof WireError>, run: () => Promise<T>,
): Promise<T & WireError> {
  try {
    return { ...(await run()), errorCode: 0, errorMessage: '' };
  } catch (error) {
    return { ...failed, ...itemError(context, where, error) } as T & WireError;
  }
}
