/**
 * Bookkeeping for share-group tests through the client: every delivery of every record (which
 * member, its delivery count, and the time span the member surely held it: from when the
 * record arrived to when its ack was sent or its lock ran out, whichever came first), every
 * ACCEPT the coordinator answered, and what the checks of QUEUES-ON-A-LOG.md §5 need from
 * that: no two members holding a record at once, each record accepted once, nothing
 * delivered again after its accept was answered, delivery counts rising across deliveries.
 */
import type { ShareConsumer, ShareRecord } from '../../client/share-consumer.js';
import type { Sluice } from '../../client/sluice.js';

export interface Delivery {
  member: number;
  count: number;
  from: number;
  to: number;
}

export const recordKey = (record: { partition: number; offset: number }) => `${record.partition}:${record.offset}`;

export class ShareTracker {
  readonly deliveries = new Map<string, Delivery[]>();
  /** Accepts the coordinator answered, per record. */
  readonly accepted = new Map<string, number>();
  /** Records whose accept was refused or lost (a crash): the broker may or may not have stored it. */
  readonly uncertain = new Set<string>();
  /** Records handed out again after their accept was answered. */
  readonly deliveredAfterAccept: string[] = [];

  received(member: number, record: ShareRecord): Delivery {
    const key = recordKey(record);
    if (this.accepted.has(key)) this.deliveredAfterAccept.push(`${key} (delivery ${record.deliveryCount})`);
    const delivery = { member, count: record.deliveryCount, from: Date.now(), to: record.lockExpiresAt };
    let list = this.deliveries.get(key);
    if (list === undefined) this.deliveries.set(key, list = []);
    list.push(delivery);
    return delivery;
  }

  /** Acks a record, noting when the ack left and whether the coordinator accepted it. */
  async accept(delivery: Delivery, record: ShareRecord): Promise<void> {
    delivery.to = Math.min(delivery.to, Date.now());
    const key = recordKey(record);
    try {
      await record.ack();
      this.accepted.set(key, (this.accepted.get(key) ?? 0) + 1);
    } catch {
      this.uncertain.add(key);
    }
  }

  /** Records two members held at overlapping times. */
  overlaps(): string[] {
    const found: string[] = [];
    for (const [key, list] of this.deliveries) {
      const sorted = [...list].sort((a, b) => a.from - b.from);
      for (let index = 1; index < sorted.length; index += 1) {
        const before = sorted[index - 1]!;
        const after = sorted[index]!;
        if (after.member !== before.member && after.from < before.to) found.push(`${key}: member ${before.member} ${before.from}..${before.to}, member ${after.member} from ${after.from}`);
      }
    }
    return found;
  }

  /** Records delivered again with a delivery count not above the previous one (a forgotten count). */
  countsNotRising(): string[] {
    const found: string[] = [];
    for (const [key, list] of this.deliveries) {
      for (let index = 1; index < list.length; index += 1) if (list[index]!.count <= list[index - 1]!.count) found.push(`${key}: ${list.map((entry) => entry.count).join(',')}`);
    }
    return found;
  }

  /** Records accepted more than once. */
  acceptedTwice(): string[] {
    return [...this.accepted].filter(([, count]) => count > 1).map(([key]) => key);
  }
}

/**
 * Runs `members` share consumers that accept everything they get until `done()` says stop or
 * `timeoutMs` passes; resolves with the consumers closed.
 */
export async function acceptAll(sluice: Sluice, options: {
  groupId: string; topic: string; members: number; tracker: ShareTracker; done: () => boolean; timeoutMs: number; maxInFlight?: number; lockMs?: number;
  /** Called on each delivery before it is accepted; 'leave' leaves that delivery unacknowledged, for its lock or a failover to release. */
  onDelivery?: (delivery: Delivery) => 'leave' | undefined;
}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const consumers: ShareConsumer[] = Array.from({ length: options.members }, () => sluice.consumer({
    groupId: options.groupId, share: true, sessionTimeoutMs: 3000, ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
  }));
  const pending = new Set<Promise<void>>();
  try {
    await Promise.all(consumers.map(async (consumer, member) => {
      consumer.subscribe([options.topic]);
      while (!options.done() && Date.now() < deadline) {
        for (const record of await consumer.poll({ timeoutMs: 200 })) {
          const delivery = options.tracker.received(member, record);
          if (options.onDelivery?.(delivery) === 'leave') continue;
          const accepted = options.tracker.accept(delivery, record);
          pending.add(accepted);
          void accepted.finally(() => pending.delete(accepted));
        }
      }
    }));
    await Promise.all(pending);
  } finally {
    await Promise.all(consumers.map((consumer) => consumer.close()));
  }
}
