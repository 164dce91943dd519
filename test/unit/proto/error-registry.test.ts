import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../../proto/errors.js';
import { errorCodeEnum } from '../../../proto/wire.js';

// Codes at 1100 and up are raised by the client itself and never travel on the wire.
const clientOnly = (wire: number) => wire >= 1100;

describe('error registry', () => {
  it('gives every broker error a number the protobuf ErrorCode enum has, with Kafka numbers below 1000', () => {
    const enumNumbers = new Set(Object.values(errorCodeEnum.values));
    for (const [code, entry] of Object.entries(errorCodes)) {
      if (clientOnly(entry.wire)) continue;
      expect(enumNumbers.has(entry.wire), `${code} (${entry.wire}) missing from ErrorCode in sluice.proto`).toBe(true);
    }
  });

  it('uses each wire number once', () => {
    const wires = Object.values(errorCodes).map((entry) => entry.wire);
    expect(new Set(wires).size).toBe(wires.length);
  });
});
