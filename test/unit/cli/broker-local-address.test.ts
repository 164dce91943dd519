/**
 * `sluice broker --local-address`: the source address of a broker's connections to other
 * brokers must be a bare IP address; anything else is a configuration error that says so.
 */
import { describe, expect, it } from 'vitest';
import { parseLocalAddress } from '../../../cli/broker.js';
import { SluiceError } from '../../../proto/errors.js';

describe('--local-address', () => {
  it('takes an IPv4 or IPv6 address, brackets allowed', () => {
    expect(parseLocalAddress('127.0.0.12')).toBe('127.0.0.12');
    expect(parseLocalAddress('[::1]')).toBe('::1');
  });

  it('refuses a port, a host name or nothing with SLUICE_ERR_CONFIG naming the flag', () => {
    for (const bad of ['127.0.0.12:9400', 'broker-2.local', '']) {
      let caught: unknown;
      try {
        parseLocalAddress(bad);
      } catch (error) {
        caught = error;
      }
      expect(SluiceError.is(caught) && caught.code).toBe('SLUICE_ERR_CONFIG');
      expect((caught as Error).message).toContain('--local-address');
    }
  });
});
