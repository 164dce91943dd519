/**
 * Bounds of the timeouts that become timers in the coordinator. Node's setTimeout fires
 * after 1 ms for any delay past 2³¹−1 ms (or that is not a number), so a client asking for
 * a 30-day rebalance timeout would get a 1 ms one: every value is checked before it is used.
 */
import { SluiceError } from '../../proto/errors.js';

/** The longest delay setTimeout keeps (about 24.8 days). */
export const timerDelayMax = 2 ** 31 - 1;

/** group.min/max.session.timeout.ms; Kafka's minimum is 6 s, Sluice allows 1 s for fast failover. */
export const sessionTimeoutBounds = { min: 1000, max: 30 * 60 * 1000 } as const;

/**
 * A rebalance timeout outside these bounds is refused, not capped: a cap would quietly give
 * a consumer less time than it asked for to finish its revocation callbacks, and it would be
 * dropped from the group without knowing why. 30 min is Kafka's group.max.session.timeout.ms:
 * it also bounds how long one vanished member can hold a whole group in PreparingRebalance.
 */
export const rebalanceTimeoutBounds = { min: 1000, max: 30 * 60 * 1000 } as const;

const within = (value: number, bounds: { min: number; max: number }) => Number.isInteger(value) && value >= bounds.min && value <= bounds.max;

/** The session and rebalance timeouts of a JoinGroup. */
export function checkMemberTimeouts(sessionTimeoutMs: number, rebalanceTimeoutMs: number): void {
  if (!within(sessionTimeoutMs, sessionTimeoutBounds)) {
    throw new SluiceError('SLUICE_ERR_INVALID_SESSION_TIMEOUT', `session timeout ${sessionTimeoutMs} ms is outside ${sessionTimeoutBounds.min}..${sessionTimeoutBounds.max}`);
  }
  if (!within(rebalanceTimeoutMs, rebalanceTimeoutBounds)) {
    throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `rebalance timeout ${rebalanceTimeoutMs} ms is outside ${rebalanceTimeoutBounds.min}..${rebalanceTimeoutBounds.max}; set rebalanceTimeoutMs within it`);
  }
}

/** A broker setting that becomes a timer delay. */
export function checkTimerSetting(name: string, value: number): number {
  if (!within(value, { min: 1, max: timerDelayMax })) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `${name} must be an integer number of milliseconds in 1..${timerDelayMax}, got ${value}`);
  }
  return value;
}
