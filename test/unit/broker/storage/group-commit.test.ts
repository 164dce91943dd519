import { describe, expect, it } from 'vitest';
import { GroupCommit, type SyncJob } from '../../../../broker/storage/group-commit.js';

/** A group commit over a fake log whose syncs finish only when the test says so. */
function harness(policy: { flushMessages: number; flushMs: number }) {
  let end = 0;
  const syncs: Array<{ offset: number; finish: () => void; fail: (error: Error) => void }> = [];
  const commit = new GroupCommit({
    ...policy,
    syncedOffset: 0,
    logEndOffset: () => end,
    startSync: (): SyncJob => {
      let finish!: () => void;
      let fail!: (error: Error) => void;
      const done = new Promise<void>((resolve, reject) => { finish = resolve; fail = reject; });
      syncs.push({ offset: end, finish, fail });
      return { offset: end, done };
    },
  });
  const append = (records: number) => {
    end += records;
    commit.onAppend(records);
    return end - 1;
  };
  return { commit, syncs, append };
}

describe('GroupCommit', () => {
  it('serves every append that waited during a sync with one more sync', async () => {
    const { commit, syncs, append } = harness({ flushMessages: 1, flushMs: Infinity });
    const first = commit.waitFor(append(1));
    expect(syncs).toHaveLength(1);
    const waiting = Array.from({ length: 100 }, () => commit.waitFor(append(1)));
    expect(syncs).toHaveLength(1);
    syncs[0]!.finish();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(syncs).toHaveLength(2);
    expect(syncs[1]!.offset).toBe(101);
    syncs[1]!.finish();
    await Promise.all(waiting);
    expect(commit.syncedOffset).toBe(101);
  });

  it('syncs after flush.messages records', () => {
    const { syncs, append } = harness({ flushMessages: 10, flushMs: Infinity });
    append(9);
    expect(syncs).toHaveLength(0);
    append(1);
    expect(syncs).toHaveLength(1);
  });

  it('syncs within flush.ms of the first unsynced append', async () => {
    const { commit, syncs, append } = harness({ flushMessages: Infinity, flushMs: 5 });
    const durable = commit.waitFor(append(3));
    const deadline = Date.now() + 5000;
    while (syncs.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(syncs).toHaveLength(1);
    syncs[0]!.finish();
    await durable;
  });

  it('fails the waiters of a failed sync with a storage error', async () => {
    const { commit, syncs, append } = harness({ flushMessages: 1, flushMs: Infinity });
    const durable = commit.waitFor(append(1));
    syncs[0]!.fail(new Error('EIO'));
    await expect(durable).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
  });

  it('never retries a failed sync: every waiter fails, no sync starts again, the synced offset stays', async () => {
    const { commit, syncs, append } = harness({ flushMessages: 1, flushMs: Infinity });
    const first = commit.waitFor(append(1));
    syncs[0]!.finish();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    const failing = commit.waitFor(append(1));
    // Arrives while the failing sync runs: the next sync would cover it, had there been one.
    const later = commit.waitFor(append(1));
    syncs[1]!.fail(new Error('EIO'));
    await expect(failing).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
    await expect(later).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
    await new Promise((resolve) => setImmediate(resolve));
    append(1);
    await expect(commit.flush()).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
    expect(syncs).toHaveLength(2);
    expect(commit.syncedOffset).toBe(1);
  });

  it('rejects waiters when closed', async () => {
    const { commit, append } = harness({ flushMessages: Infinity, flushMs: Infinity });
    const durable = commit.waitFor(append(1));
    commit.close();
    await expect(durable).rejects.toMatchObject({ code: 'SLUICE_ERR_LOG_CLOSED' });
  });
});
