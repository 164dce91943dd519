import { describe, expect, it } from 'vitest';
import { parseLogConfigEntries, resolveLogConfig } from '../../../../broker/storage/log-config.js';

describe('queue topic configs', () => {
  it('default to no TTL, no delayed delivery and a 7-day delay ceiling', () => {
    const config = resolveLogConfig();
    expect(config).toMatchObject({ messageTtlMs: -1, delayedDeliveryEnable: false, delayedDeliveryMaxMs: 7 * 24 * 3600 * 1000 });
  });

  it('parse message.ttl.ms, delayed.delivery.enable and delayed.delivery.max.ms', () => {
    const config = resolveLogConfig(parseLogConfigEntries({ 'message.ttl.ms': '60000', 'delayed.delivery.enable': 'true', 'delayed.delivery.max.ms': '3600000' }));
    expect(config).toMatchObject({ messageTtlMs: 60_000, delayedDeliveryEnable: true, delayedDeliveryMaxMs: 3_600_000 });
  });

  it('refuse a TTL of 0, a non-boolean flag and a non-positive delay ceiling', () => {
    expect(() => resolveLogConfig(parseLogConfigEntries({ 'message.ttl.ms': '0' }))).toThrow(/message.ttl.ms must be -1/);
    expect(() => parseLogConfigEntries({ 'delayed.delivery.enable': 'yes' })).toThrow(/delayed.delivery.enable must be true or false/);
    expect(() => resolveLogConfig(parseLogConfigEntries({ 'delayed.delivery.max.ms': '0' }))).toThrow(/delayedDeliveryMaxMs/);
  });
});
