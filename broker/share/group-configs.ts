/**
 * Share-group configs: the keys of the contract, their defaults and allowed ranges. Values
 * travel as strings; a bad one is refused with INVALID_CONFIG naming the key, its range and
 * what was given, so `sluice groups alter` tells the user exactly what to fix.
 */
import { SluiceError } from '../../proto/errors.js';

export interface ShareGroupConfig {
  deliveryLimit: number;
  /** share.retry.backoff.ms: the n-th failed attempt waits retryBackoffMs[min(n-1, len-1)]; empty: no wait. */
  retryBackoffMs: number[];
  maxRetryDelayMs: number;
  /** '' (none): dead records are dropped and counted. */
  dlqTopic: string;
  partitionMaxWindow: number;
  memberMaxInFlight: number;
  lockDurationMs: number;
  autoOffsetReset: 'latest' | 'earliest';
}

interface KeySpec {
  default: string;
  /** Throws INVALID_CONFIG for a bad value. */
  check(value: string): void;
}

const invalid = (key: string, expected: string, value: string) =>
  new SluiceError('SLUICE_ERR_CONFIG', `${key} must be ${expected}, got "${value}"`);

function integerIn(key: string, min: number, max: number): KeySpec['check'] {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) throw invalid(key, `an integer from ${min} to ${max}`, value);
  };
}

const specs: Record<string, KeySpec> = {
  'share.delivery.limit': { default: '5', check: integerIn('share.delivery.limit', 2, 10) },
  'share.retry.backoff.ms': {
    default: '',
    check(value) {
      if (value.trim() === '') return;
      const parts = value.split(',').map((part) => part.trim());
      if (parts.length > 100 || parts.some((part) => !/^\d+$/.test(part) || Number(part) > 3_600_000)) {
        throw invalid('share.retry.backoff.ms', 'a comma-separated list of at most 100 delays in ms, each from 0 to 3600000 (empty: no wait)', value);
      }
    },
  },
  'share.max.retry.delay.ms': { default: '3600000', check: integerIn('share.max.retry.delay.ms', 0, 86_400_000) },
  'share.dlq.topic': {
    default: '',
    check(value) {
      if (value !== '' && (value.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(value) || value.startsWith('__'))) {
        throw invalid('share.dlq.topic', 'empty (no DLQ) or a topic name of 1 to 249 characters from [a-zA-Z0-9._-], not internal (__)', value);
      }
    },
  },
  'share.partition.max.window': { default: '2000', check: integerIn('share.partition.max.window', 100, 10_000) },
  'share.member.max.in.flight': { default: '1000', check: integerIn('share.member.max.in.flight', 1, 10_000) },
  'share.record.lock.duration.ms': { default: '30000', check: integerIn('share.record.lock.duration.ms', 1000, 3_600_000) },
  'share.auto.offset.reset': {
    default: 'latest',
    check(value) {
      if (value !== 'latest' && value !== 'earliest') throw invalid('share.auto.offset.reset', '"latest" or "earliest"', value);
    },
  },
};

export const groupConfigKeys = Object.keys(specs);

/** Throws INVALID_CONFIG for an unknown key or a value out of its range. */
export function checkGroupConfig(key: string, value: string): void {
  const spec = specs[key];
  if (spec === undefined) throw new SluiceError('SLUICE_ERR_CONFIG', `unknown group config ${key}; known: ${groupConfigKeys.join(', ')}`);
  spec.check(value);
}

/** The overrides after an alter: `set` checked, `remove` back to defaults. */
export function alteredGroupConfigs(current: Readonly<Record<string, string>>, set: Record<string, string>, remove: string[]): Record<string, string> {
  const next = { ...current };
  for (const key of remove) {
    if (specs[key] === undefined) checkGroupConfig(key, '');
    delete next[key];
  }
  for (const [key, value] of Object.entries(set)) {
    checkGroupConfig(key, value);
    next[key] = value;
  }
  return next;
}

export function describeGroupConfigs(overrides: Readonly<Record<string, string>>): Array<{ name: string; value: string; source: 'group' | 'default' }> {
  return groupConfigKeys.map((name) => overrides[name] === undefined
    ? { name, value: specs[name]!.default, source: 'default' as const }
    : { name, value: overrides[name]!, source: 'group' as const });
}

export function resolveGroupConfig(overrides: Readonly<Record<string, string>>): ShareGroupConfig {
  const value = (key: string) => overrides[key] ?? specs[key]!.default;
  const backoff = value('share.retry.backoff.ms').trim();
  return {
    deliveryLimit: Number(value('share.delivery.limit')),
    retryBackoffMs: backoff === '' ? [] : backoff.split(',').map((part) => Number(part.trim())),
    maxRetryDelayMs: Number(value('share.max.retry.delay.ms')),
    dlqTopic: value('share.dlq.topic'),
    partitionMaxWindow: Number(value('share.partition.max.window')),
    memberMaxInFlight: Number(value('share.member.max.in.flight')),
    lockDurationMs: Number(value('share.record.lock.duration.ms')),
    autoOffsetReset: value('share.auto.offset.reset') as 'latest' | 'earliest',
  };
}

/** How long the n-th failed attempt (n ≥ 1) waits before the record is available again. */
export function backoffFor(config: ShareGroupConfig, failedAttempt: number): number {
  const list = config.retryBackoffMs;
  if (list.length === 0) return 0;
  return Math.min(list[Math.min(failedAttempt - 1, list.length - 1)]!, config.maxRetryDelayMs);
}
