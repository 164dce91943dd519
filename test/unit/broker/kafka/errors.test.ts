/**
 * Sluice's errors in Kafka's numbers: shared codes pass through, Sluice's own become the Kafka
 * error a client handles the same way, by what the error is about.
 */
import { describe, expect, it } from 'vitest';
import { kafkaError, kafkaErrorCode } from '../../../../broker/kafka/errors.js';
import { errorCodes, SluiceError } from '../../../../proto/errors.js';
import { kafkaErrorCodes } from '../../../../proto/kafka/error-codes.js';

describe('Kafka error codes for Sluice errors', () => {
  it('keeps the codes Kafka has', () => {
    for (const entry of Object.values(errorCodes)) {
      if (entry.wire < 1000) expect(kafkaErrorCode(entry.wire, 'partition')).toBe(entry.wire);
    }
    expect(kafkaError(new SluiceError('SLUICE_ERR_NOT_COORDINATOR', 'elsewhere'), 'coordinator')).toEqual({ errorCode: 16, errorMessage: 'elsewhere' });
  });

  it('maps Sluice\'s own to the nearest Kafka error, by scope', () => {
    expect(kafkaErrorCode(errorCodes.SLUICE_ERR_STORAGE.wire, 'partition')).toBe(kafkaErrorCodes.KAFKA_STORAGE_ERROR);
    expect(kafkaErrorCode(errorCodes.SLUICE_ERR_LOG_CLOSED.wire, 'partition')).toBe(kafkaErrorCodes.NOT_LEADER_OR_FOLLOWER);
    expect(kafkaErrorCode(errorCodes.SLUICE_ERR_BROKER_SHUTTING_DOWN.wire, 'coordinator')).toBe(kafkaErrorCodes.COORDINATOR_NOT_AVAILABLE);
    expect(kafkaErrorCode(errorCodes.SLUICE_ERR_METADATA_STORE.wire, 'admin')).toBe(kafkaErrorCodes.REQUEST_TIMED_OUT);
    expect(kafkaErrorCode(errorCodes.SLUICE_ERR_CONFIG.wire, 'admin')).toBe(kafkaErrorCodes.INVALID_CONFIG);
    expect(kafkaError(new Error('a bug'), 'partition')).toEqual({ errorCode: kafkaErrorCodes.UNKNOWN_SERVER_ERROR, errorMessage: 'internal broker error; see the broker log' });
  });

  it('has a Kafka number for every Sluice code', () => {
    for (const entry of Object.values(errorCodes)) {
      const code = kafkaErrorCode(entry.wire, 'partition');
      expect(code === -1 || Object.values(kafkaErrorCodes).includes(code as never), `${entry.wire} → ${code}`).toBe(true);
    }
  });
});
