import { describe, expect, it } from 'vitest';
import type { BrokerContext } from '../../../../broker/api/context.js';
import { itemResult, itemResultAsync } from '../../../../broker/api/item-result.js';
import { errorCodes, SluiceError } from '../../../../proto/errors.js';

function contextWithLog(): { context: BrokerContext; logged: unknown[] } {
  const logged: unknown[] = [];
  const logger = { error: (fields: unknown) => logged.push(fields) };
  return { context: { logger } as unknown as BrokerContext, logged };
}

const failed = () => ({ partition: 1, errorCode: 0, errorMessage: '', offset: -1 });

describe('one item of a request', () => {
  it('answers with the result and no error', () => {
    const { context, logged } = contextWithLog();
    expect(itemResult(context, { api: 'ListOffsets' }, failed, () => ({ partition: 1, errorCode: 0, errorMessage: '', offset: 7 })))
      .toEqual({ partition: 1, offset: 7, errorCode: 0, errorMessage: '' });
    expect(logged).toEqual([]);
  });

  it('answers a SluiceError with its code and message, without logging it', () => {
    const { context, logged } = contextWithLog();
    const result = itemResult(context, { api: 'ListOffsets' }, failed, () => {
      throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', 'unknown topic "x"');
    });
    expect(result).toEqual({ partition: 1, offset: -1, errorCode: errorCodes.SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION.wire, errorMessage: 'unknown topic "x"' });
    expect(logged).toEqual([]);
  });

  it('logs an unexpected error with where it happened, and tells the client to look there', async () => {
    const { context, logged } = contextWithLog();
    const result = await itemResultAsync(context, { api: 'Produce', topic: 't', partition: 2 }, failed, async () => {
      throw new TypeError('a bug');
    });
    expect(result.errorCode).toBe(errorCodes.SLUICE_ERR_UNKNOWN.wire);
    expect(result.errorMessage).toMatch(/see the broker log/);
    expect(logged).toEqual([expect.objectContaining({ api: 'Produce', topic: 't', partition: 2, err: expect.any(TypeError) })]);
  });
});
