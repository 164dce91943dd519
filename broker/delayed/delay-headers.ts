/**
 * When a produced record is due: header `x-deliver-at` (epoch ms) or `x-delay-ms` (ms after
 * the broker received it), UTF-8 decimal strings as every numeric header. `x-deliver-at`
 * wins when both are set. A due time further ahead than the topic's delayed.delivery.max.ms
 * is refused, saying the limit and the config that moves it.
 */
import { CorruptRecordError } from '../../proto/errors.js';
import type { RecordHeader } from '../../proto/record-batch/record-batch.js';

export const delayHeader = 'x-delay-ms';
export const deliverAtHeader = 'x-deliver-at';

function invalid(message: string): CorruptRecordError {
  return new CorruptRecordError(message, 'SLUICE_ERR_INVALID_RECORD');
}

function number(header: RecordHeader): number {
  const text = header.value?.toString('utf8') ?? '';
  if (!/^-?\d{1,16}$/.test(text)) throw invalid(`header ${header.key} must be a decimal number of milliseconds, got ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/**
 * The record's due time in epoch ms, or undefined when it has neither header. `now` is the
 * broker's receive time; `maxMs` the topic's delayed.delivery.max.ms.
 */
export function dueTime(headers: readonly RecordHeader[], now: number, maxMs: number, topic: string): number | undefined {
  let due: number | undefined;
  for (const header of headers) {
    if (header.key === deliverAtHeader) due = number(header);
    else if (header.key === delayHeader && due === undefined) {
      const delay = number(header);
      if (delay < 0) throw invalid(`header ${delayHeader} must not be negative, got ${delay}`);
      due = now + delay;
    }
  }
  if (due !== undefined && due - now > maxMs) {
    throw invalid(`a delayed record is due ${due - now} ms ahead (at ${new Date(due).toISOString()}), beyond topic ${topic}'s delayed.delivery.max.ms=${maxMs}; deliver it sooner or raise the topic's delayed.delivery.max.ms`);
  }
  return due;
}
