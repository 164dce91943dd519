/**
 * Share-group configs: defaults, ranges refused with INVALID_CONFIG (SLUICE_ERR_CONFIG) naming
 * the key and range, deletes back to the default, and the backoff list (the n-th failed attempt
 * waits list[min(n−1, len−1)], capped by share.max.retry.delay.ms).
 */
import { describe, expect, it } from 'vitest';
import { alteredGroupConfigs, backoffFor, describeGroupConfigs, resolveGroupConfig } from '../../../../broker/share/group-configs.js';

describe('share group configs', () => {
  it('defaults are the contract\'s', () => {
    expect(resolveGroupConfig({})).toEqual({
      deliveryLimit: 5, retryBackoffMs: [], maxRetryDelayMs: 3_600_000, dlqTopic: '', partitionMaxWindow: 2000, memberMaxInFlight: 1000,
      lockDurationMs: 30_000, autoOffsetReset: 'latest',
    });
  });

  it('refuses values out of range, naming the key and the range', () => {
    const cases: Array<[string, string, string]> = [
      ['share.delivery.limit', '1', 'from 2 to 10'], ['share.partition.max.window', '99', 'from 100 to 10000'],
      ['share.record.lock.duration.ms', '999', 'from 1000 to 3600000'], ['share.retry.backoff.ms', '10,x', 'comma-separated'],
      ['share.auto.offset.reset', 'none', '"latest" or "earliest"'], ['share.dlq.topic', '__internal', 'not internal'], ['share.delivery.limit', '3.5', 'integer'],
    ];
    for (const [key, value, words] of cases) {
      expect(() => alteredGroupConfigs({}, { [key]: value }, []), `${key}=${value}`).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG', message: expect.stringContaining(words) }));
    }
    expect(() => alteredGroupConfigs({}, {}, ['share.nope'])).toThrow(/unknown group config/);
  });

  it('sets, deletes back to default, and describes with the source', () => {
    const set = alteredGroupConfigs({}, { 'share.delivery.limit': '3', 'share.dlq.topic': 'dlq' }, []);
    const after = alteredGroupConfigs(set, {}, ['share.dlq.topic']);
    expect(after).toEqual({ 'share.delivery.limit': '3' });
    expect(describeGroupConfigs(after)).toContainEqual({ name: 'share.delivery.limit', value: '3', source: 'group' });
    expect(describeGroupConfigs(after)).toContainEqual({ name: 'share.dlq.topic', value: '', source: 'default' });
  });

  it('the n-th failed attempt waits the n-th backoff, the last repeating, capped by share.max.retry.delay.ms', () => {
    const config = resolveGroupConfig({ 'share.retry.backoff.ms': '1000,5000,30000', 'share.max.retry.delay.ms': '20000' });
    expect([1, 2, 3, 4].map((attempt) => backoffFor(config, attempt))).toEqual([1000, 5000, 20000, 20000]);
    expect(backoffFor(resolveGroupConfig({}), 3)).toBe(0);
  });
});
