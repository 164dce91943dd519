/**
 * The share-partition state machine alone (no broker, no clock): acquisition order and counts,
 * the window limit, ACCEPT / RELEASE / REJECT / RENEW, INVALID_RECORD_STATE checks, lock
 * expiry and backoff as failed attempts, the delivery limit, DLQ or dropped dead letters,
 * retention skipping, 8 members over 100k records with no overlapping holds, and persistence:
 * the updates and snapshots it emits, replayed (also after compaction keeps only the last record
 * per key), rebuild the same state, and recovery turns ACQUIRED into failed attempts.
 */
import { describe, expect, it } from 'vitest';
import { resolveGroupConfig } from '../../../../broker/share/group-configs.js';
import { SharePartition } from '../../../../broker/share/share-partition.js';
import { decodeStateValue, encodeStateValue, RecordState, type ShareStateValue, updateSlots } from '../../../../broker/share/share-records.js';

const config = resolveGroupConfig({ 'share.delivery.limit': '3', 'share.retry.backoff.ms': '100,500' });

function filled(count: number, start = 0): SharePartition {
  const share = new SharePartition('t', 0, start);
  for (let offset = start; offset < start + count; offset += 1) share.addRecord(offset);
  return share;
}

/** Every persisted record the partition emits, as compaction would see them (key → last). */
class Persisted {
  readonly log: Array<{ key: string; snapshot: boolean; bytes: Buffer }> = [];

  take(share: SharePartition): void {
    const update = share.takeUpdate();
    if (update === undefined) return;
    this.log.push({ key: update.snapshot ? 'snapshot' : `update-${update.slot}`, snapshot: update.snapshot, bytes: encodeStateValue(update.value) });
  }

  replay(compacted: boolean): SharePartition {
    let records = this.log;
    if (compacted) {
      const last = new Map<string, number>();
      records.forEach((record, index) => {
        last.set(record.key, index);
      });
      records = records.filter((record, index) => last.get(record.key) === index);
    }
    let share: SharePartition | undefined;
    for (const record of records) {
      const value: ShareStateValue = decodeStateValue(record.bytes);
      share ??= new SharePartition('t', 0, value.start);
      share.applyPersisted(value, record.snapshot);
    }
    return share!;
  }
}

describe('share-partition state machine', () => {
  it('acquires AVAILABLE offsets lowest first, counting deliveries; RELEASE makes them available again as a failed attempt', () => {
    const share = filled(5);
    expect(share.availableOffsets(10)).toEqual([0, 1, 2, 3, 4]);
    expect(share.acquire(0, 7, 0, 1000)).toBe(1);
    expect(share.acquire(1, 7, 0, 1000)).toBe(1);
    expect(share.availableOffsets(10)).toEqual([2, 3, 4]);
    expect(share.heldBy(7)).toBe(2);
    expect(share.fail(0, 0, resolveGroupConfig({}), false, 10)).toEqual({ redeliverable: 1, deadLettering: 0 });
    expect(share.availableOffsets(1)).toEqual([0]);
    expect(share.acquire(0, 8, 20, 1000)).toBe(2);
    expect(() => share.acquire(0, 9, 20, 1000)).toThrow();
  });

  it('a member may ack only what it holds; gaps inside a range are ignored', () => {
    const share = new SharePartition('t', 0, 0);
    share.addRecord(0);
    share.addRecord(2);
    share.acquire(0, 1, 0, 1000);
    share.acquire(2, 1, 0, 1000);
    expect(share.notHeld(0, 2, 1)).toBeUndefined();
    expect(share.notHeld(0, 2, 2)).toContain('not held');
    expect(share.notHeld(0, 5, 1)).toContain('not in flight');
    share.accept(0, 2);
    expect(share.start).toBe(3);
    expect(share.counters.acknowledged).toBe(2);
    expect(share.notHeld(0, 0, 1)).toContain('not in flight');
  });

  it('retry backoff delays the n-th failed attempt by the n-th value; the sweep makes it available when due, never before', () => {
    const share = filled(1);
    share.acquire(0, 1, 0, 1000);
    share.fail(0, 0, config, false, 0);
    expect(share.state(0)).toBe(RecordState.delayed);
    expect(share.sweep(99, config, false).madeAvailable).toBe(0);
    expect(share.sweep(100, config, false).madeAvailable).toBe(1);
    share.acquire(0, 1, 100, 1100);
    share.fail(0, 0, config, false, 200);
    expect(share.sweep(699, config, false).madeAvailable).toBe(0);
    expect(share.sweep(700, config, false).madeAvailable).toBe(1);
  });

  it('an explicit release delay wins over the backoff, capped by share.max.retry.delay.ms', () => {
    const share = filled(1);
    const capped = resolveGroupConfig({ 'share.max.retry.delay.ms': '1000' });
    share.acquire(0, 1, 0, 1000);
    share.fail(0, 0, capped, false, 0, 60_000);
    expect(share.sweep(999, capped, false).madeAvailable).toBe(0);
    expect(share.sweep(1000, capped, false).madeAvailable).toBe(1);
  });

  it('lock expiry is a failed attempt; at the delivery limit the record dead-letters as delivery_limit', () => {
    const share = filled(1);
    const noBackoff = resolveGroupConfig({ 'share.delivery.limit': '2' });
    share.acquire(0, 1, 0, 1000);
    expect(share.sweep(999, noBackoff, true).expiredLocks).toBe(0);
    expect(share.sweep(1000, noBackoff, true)).toMatchObject({ expiredLocks: 1, redeliverable: 1 });
    share.acquire(0, 1, 1000, 2000);
    expect(share.sweep(2000, noBackoff, true)).toMatchObject({ expiredLocks: 1, deadLettering: 1 });
    expect(share.state(0)).toBe(RecordState.deadLettering);
    expect(share.reasonOf(0)).toBe('delivery_limit');
    expect(share.deadLettering(10)).toEqual([0]);
    expect(share.start).toBe(0);
    share.deadLettered(0);
    expect(share.start).toBe(1);
    expect(share.counters.deliveryLimit).toBe(1);
  });

  it('REJECT dead-letters at once; without a DLQ the record is dropped and counted', () => {
    const share = filled(2);
    share.acquire(0, 1, 0, 1000);
    share.acquire(1, 1, 0, 1000);
    share.reject(0, 1, false);
    expect(share.start).toBe(2);
    expect(share.counters).toMatchObject({ rejected: 2, dropped: 2 });
  });

  it('RENEW moves the lock; the count is unchanged', () => {
    const share = filled(1);
    share.acquire(0, 1, 0, 1000);
    share.renew(0, 0, 5000);
    expect(share.sweep(4000, config, false).expiredLocks).toBe(0);
    expect(share.deliveryCount(0)).toBe(1);
    expect(share.lockExpiry(0)).toBe(5000);
  });

  it('the window: SPEO − SPSO + 1 never exceeds the max window', () => {
    const share = filled(100);
    expect(share.canAdd(99, 100)).toBe(true);
    expect(share.canAdd(100, 100)).toBe(false);
    share.acquire(0, 1, 0, 1000);
    share.accept(0, 0);
    expect(share.canAdd(100, 100)).toBe(true);
  });

  it('retention removing unfinished offsets moves SPSO and counts them skipped', () => {
    const share = filled(10);
    share.acquire(0, 1, 0, 1000);
    share.accept(0, 0);
    share.acquire(1, 1, 0, 1000);
    expect(share.skipTo(5)).toBe(4);
    expect(share.start).toBe(5);
    expect(share.heldBy(1)).toBe(0);
    expect(share.skipTo(20)).toBe(15);
    expect(share.counters.skipped).toBe(19);
    expect(share.end).toBe(20);
  });

  it('8 members over 100k records: no record is held by two members at once and each is accepted once', () => {
    const share = new SharePartition('t', 0, 0);
    const holders = new Map<number, number>();
    const accepted = new Set<number>();
    const total = 100_000;
    let next = 0;
    let now = 0;
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const held: number[][] = Array.from({ length: 8 }, () => []);
    while (accepted.size < total) {
      now += 1;
      const member = Math.floor(random() * 8);
      while (next < total && share.canAdd(next, 2000)) share.addRecord(next++);
      for (const offset of share.availableOffsets(50)) {
        if (holders.has(offset)) throw new Error(`offset ${offset} acquired while member ${holders.get(offset)} holds it`);
        share.acquire(offset, member, now, now + 1000);
        holders.set(offset, member);
        held[member]!.push(offset);
      }
      for (const offset of held[member]!.splice(0)) {
        if (share.notHeld(offset, offset, member) !== undefined) throw new Error(`member ${member} lost offset ${offset}`);
        holders.delete(offset);
        if (random() < 0.1) share.fail(offset, offset, resolveGroupConfig({ 'share.delivery.limit': '10' }), false, now);
        else {
          share.accept(offset, offset);
          if (accepted.has(offset)) throw new Error(`offset ${offset} accepted twice`);
          accepted.add(offset);
        }
      }
      share.takeUpdate();
    }
    expect(share.start).toBe(total);
    expect(share.counters.acknowledged).toBe(total);
  });
});

describe('share-partition persistence', () => {
  it('replaying its updates and snapshots rebuilds the state, also after compaction', () => {
    const share = new SharePartition('t', 0, 0);
    const persisted = new Persisted();
    persisted.take(share);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 3 * updateSlots; step += 1) {
      if (share.end - share.start < 300) for (let index = 0; index < 5; index += 1) share.addRecord(share.end);
      const available = share.availableOffsets(3);
      for (const offset of available) share.acquire(offset, 1, step, step + 100);
      const offset = share.start + Math.floor(random() * (share.end - share.start));
      if (share.state(offset) === RecordState.acquired) {
        const roll = random();
        if (roll < 0.6) share.accept(offset, offset);
        else if (roll < 0.9) share.fail(offset, offset, config, true, step);
        else share.reject(offset, offset, true);
      }
      if (share.deadLettering(1).length > 0 && random() < 0.5) share.deadLettered(share.deadLettering(1)[0]!);
      persisted.take(share);
    }
    const expected = share.snapshot();
    for (const compacted of [false, true]) {
      const replayed = persisted.replay(compacted);
      const got = replayed.snapshot();
      expect({ ...got, seq: 0 }).toEqual({ ...expected, seq: 0 });
    }
  });

  it('recovery: ACQUIRED records become AVAILABLE keeping their count, or dead-letter at the limit', () => {
    const share = filled(2);
    const persisted = new Persisted();
    share.acquire(0, 1, 0, 1000);
    share.acquire(1, 1, 0, 1000);
    share.fail(1, 1, resolveGroupConfig({}), false, 0);
    share.acquire(1, 1, 0, 1000);
    persisted.take(share);
    const replayed = persisted.replay(false);
    expect(replayed.state(0)).toBe(RecordState.acquired);
    expect(replayed.recover(resolveGroupConfig({ 'share.delivery.limit': '2' }), true)).toEqual({ redeliverable: 1, deadLettering: 1 });
    expect(replayed.state(0)).toBe(RecordState.available);
    expect(replayed.deliveryCount(0)).toBe(1);
    expect(replayed.state(1)).toBe(RecordState.deadLettering);
    expect(replayed.acquire(0, 2, 0, 1000)).toBe(2);
  });
});
