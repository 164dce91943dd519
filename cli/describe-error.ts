import { SluiceError } from '../proto/errors.js';

/** One line a person can act on: the error's message and code, without a stack. */
export function describeError(error: unknown): string {
  if (SluiceError.is(error)) {
    if (error.code === 'SLUICE_ERR_CONNECTION') return `${error.detail} — is a broker running there? (start one with: sluice broker)`;
    return `${error.detail} [${error.code}]`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
