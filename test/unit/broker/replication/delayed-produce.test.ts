import { afterEach, describe, expect, it, vi } from 'vitest';
import { DelayedProduces } from '../../../../broker/replication/delayed-produce.js';

describe('DelayedProduces', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('completes the waiters the high watermark covers, in order, and no others', async () => {
    const produces = new DelayedProduces();
    const first = produces.wait(4, 10_000);
    const second = produces.wait(9, 10_000);
    produces.highWatermarkMoved(5, true);
    expect(await first).toBeNull();
    expect(produces.size).toBe(1);
    produces.highWatermarkMoved(10, false);
    expect(await second).toBe('SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    expect(produces.size).toBe(0);
  });

  it('answers REQUEST_TIMED_OUT at the timeout and forgets the waiter', async () => {
    vi.useFakeTimers();
    const produces = new DelayedProduces();
    const waiting = produces.wait(0, 500);
    vi.advanceTimersByTime(499);
    expect(produces.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await waiting).toBe('SLUICE_ERR_REQUEST_TIMED_OUT');
    expect(produces.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers NOT_LEADER_OR_FOLLOWER to every waiter when leadership is lost, clearing every timer', async () => {
    vi.useFakeTimers();
    const produces = new DelayedProduces();
    const waiting = [produces.wait(1, 1000), produces.wait(2, 2000)];
    produces.failAll();
    expect(await Promise.all(waiting)).toEqual(['SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER']);
    expect(vi.getTimerCount()).toBe(0);
    produces.highWatermarkMoved(100, true);
    expect(produces.size).toBe(0);
  });
});
