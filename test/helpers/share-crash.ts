/**
 * Behaviour 25 of QUEUES-ON-A-LOG.md through the client: share consumers accept records while
 * the broker that coordinates their group is crashed (`crash`) once a third of the records
 * are accepted; they go on until the coordinator says every record is finished. Returns what
 * the checks need: the tracker (deliveries, answered accepts), and the group's description
 * and dead letters at the end.
 */
import type { ShareGroupDescription } from '../../client/admin.js';
import type { Sluice } from '../../client/sluice.js';
import { acceptAll, ShareTracker } from './share-tracker.js';

export interface CrashRun {
  tracker: ShareTracker;
  description: ShareGroupDescription;
  crashedAfter: number;
}

export async function consumeThroughCrash(sluice: Sluice, options: {
  groupId: string; topic: string; records: number; members: number; crash: () => Promise<void>; timeoutMs: number;
}): Promise<CrashRun> {
  const tracker = new ShareTracker();
  let crashed: Promise<void> | undefined;
  let recovered = false;
  let finished = false;
  let crashedAfter = 0;
  let description: ShareGroupDescription | undefined;
  const watch = (async () => {
    const deadline = Date.now() + options.timeoutMs;
    while (!finished && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (!recovered) continue;
      description = await sluice.admin().describeShareGroup(options.groupId).catch(() => description);
      const partitions = description?.partitions ?? [];
      const done = partitions.reduce((sum, entry) => sum + entry.startOffset, 0);
      finished = done >= options.records && partitions.every((entry) => entry.startOffset === entry.endOffset);
    }
  })();
  await acceptAll(sluice, {
    groupId: options.groupId, topic: options.topic, members: options.members, tracker, timeoutMs: options.timeoutMs, lockMs: 2000, maxInFlight: 200,
    done: () => finished,
    onDelivery: (delivery) => {
      if (crashed !== undefined || tracker.accepted.size < options.records / 3) return undefined;
      crashedAfter = tracker.accepted.size;
      // Held across the crash for certain (the others' accepts may all have been stored just
      // before it), so at least one delivery count must survive the move and rise. The crash
      // ends this hold (a coordinator that loads the state frees what was acquired at once), so
      // another member may have the record before its lock would have run out.
      delivery.to = Math.min(delivery.to, Date.now());
      crashed = options.crash().then(() => { recovered = true; });
      return 'leave';
    },
  });
  await watch;
  await crashed;
  if (!finished) throw new Error(`the group did not finish every record in time: ${JSON.stringify(description?.partitions)}`);
  return { tracker, description: description!, crashedAfter };
}
