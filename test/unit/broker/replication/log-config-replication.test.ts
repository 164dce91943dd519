import { describe, expect, it } from 'vitest';
import { defaultLogConfig, parseLogConfigEntries, resolveLogConfig } from '../../../../broker/storage/log-config.js';

describe('replication topic configs', () => {
  it('defaults to Kafka\'s: min.insync.replicas 1, unclean election off', () => {
    expect(defaultLogConfig.minInsyncReplicas).toBe(1);
    expect(defaultLogConfig.uncleanLeaderElectionEnable).toBe(false);
  });

  it('parses min.insync.replicas and unclean.leader.election.enable', () => {
    const config = resolveLogConfig(parseLogConfigEntries({ 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'true' }));
    expect(config.minInsyncReplicas).toBe(2);
    expect(config.uncleanLeaderElectionEnable).toBe(true);
  });

  it('refuses a min.insync.replicas below 1 and a non-boolean unclean flag', () => {
    expect(() => resolveLogConfig(parseLogConfigEntries({ 'min.insync.replicas': '0' }))).toThrow(/minInsyncReplicas/);
    expect(() => parseLogConfigEntries({ 'unclean.leader.election.enable': 'yes' })).toThrow(/true or false/);
  });
});
