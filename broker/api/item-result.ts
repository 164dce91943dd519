/**
 * One item of a request (a partition of a produce or fetch, a topic of a create): its result,
 * or, when it fails, the error's wire code and message in its place, so one bad partition
 * never fails the others. An error that is not a SluiceError is a bug: the client only learns
 * "internal broker error; see the broker log", so it is logged here with where it happened.
 * Every listener (the native one today, the Kafka one later) builds its answers with these.
 *
 * Results carry their own `errorCode: 0, errorMessage: ''`, and the failed result is only built
 * on failure: produce runs this per partition of every request, where copying objects showed up
 * in profiles (and changed their shapes for the encoder).
 */
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type { BrokerContext } from './context.js';

export interface WireError {
  errorCode: number;
  errorMessage: string;
}

/** Where an item failed, for the log: the API, and the topic and partition when there are. */
export interface ItemPlace {
  api: string;
  topic?: string;
  partition?: number;
}

/** The wire form of a failed item's error; unexpected errors are logged with their place. */
export function itemError(context: BrokerContext, place: ItemPlace, error: unknown): WireError {
  if (!SluiceError.is(error)) context.logger.error({ err: error, ...place }, 'request item failed');
  return errorToWire(error);
}

/** `run()`'s result, or `failed()`'s with the error that `run` threw. */
export function itemResult<T extends WireError>(context: BrokerContext, place: ItemPlace, failed: () => T, run: () => T): T {
  try {
    return run();
  } catch (error) {
    return Object.assign(failed(), itemError(context, place, error));
  }
}

/** itemResult for items whose work waits (a produce waiting for its sync). */
export async function itemResultAsync<T extends WireError>(
  context: BrokerContext, place: ItemPlace, failed: () => T, run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    return Object.assign(failed(), itemError(context, place, error));
  }
}
