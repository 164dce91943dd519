/**
 * What an internal writer (offset commits, share state, dead letters, the timer log) waits for
 * after appending on the leader, as an acks=all produce does: the in-sync replicas have the
 * append, and its sync when the topic has a flush policy.
 */
import { SluiceError } from '../../proto/errors.js';
import type { Partition } from '../topics/topic-manager.js';

/** Resolves once the append ending at `lastOffset` is replicated (and synced, when the log syncs on its own); throws the outcome otherwise. */
export async function commitReplicated(replica: Partition, lastOffset: number, timeoutMs: number): Promise<void> {
  const replicated = replica.waitForReplication(lastOffset, timeoutMs);
  const outcome = replicated === null ? null : await replicated;
  if (outcome !== null) throw new SluiceError(outcome, `append to ${replica.topic}-${replica.index} was not replicated (${outcome})`);
  if (replica.log.syncsOnItsOwn) await replica.log.waitForSync(lastOffset);
}
