/** For codec fuzz tests: bytes either decode or are refused with CORRUPT_MESSAGE, never another exception. */
import { expect } from 'vitest';
import { SluiceError } from '../../proto/errors.js';

/** The decoded value, or undefined when the bytes were refused with CORRUPT_MESSAGE (any other exception fails). */
export function decodeOrCorrupt<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    expect(SluiceError.is(error) && error.code === 'SLUICE_ERR_CORRUPT_MESSAGE', String(error)).toBe(true);
    return undefined;
  }
}
