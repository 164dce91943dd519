/**
 * The leader-epoch cache of one partition: for each leader epoch whose leader appended to this
 * log, the first offset it wrote (Kafka's LeaderEpochFileCache, REPLICATION-FACTS.md §H). It
 * answers OffsetsForLeaderEpoch (`endOffsetFor`), which a follower uses to find where its log
 * diverged from a new leader's.
 *
 * Entries rise strictly in both epoch and start offset. The file
 * `<partition dir>/leader-epoch-checkpoint` is Kafka's text format: a line `0` (version), the
 * entry count, then one `epoch startOffset` line per entry. It is rewritten whole (temp file,
 * fsync, rename) on every change, so a crash leaves the old list or the new one. The list can
 * always be derived again from the batches' partitionLeaderEpoch, which the log does when the
 * file is missing or cannot be parsed.
 */
import { SluiceError } from '../../proto/errors.js';
import { leaderEpochCheckpointFile, readTextCheckpoint, writeTextCheckpoint } from './checkpoint.js';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/** What a partition directory's checkpoint held when the cache was loaded. */
export type EpochCheckpointState = 'loaded' | 'missing' | 'unreadable';

const int32Max = 0x7fffffff;

export class LeaderEpochCache {
  readonly directory: string;
  #entries: EpochEntry[];
  /** The newest epoch, −1 when there is none: what the append path compares each batch with. */
  #latest: number;

  constructor(directory: string, entries: ReadonlyArray<EpochEntry> = []) {
    this.directory = directory;
    this.#entries = entries.map((entry) => ({ ...entry }));
    this.#latest = this.#entries.at(-1)?.epoch ?? -1;
  }

  /**
   * Reads the checkpoint in `directory`. A missing file gives an empty cache ('missing'); a file
   * that does not parse gives an empty cache too ('unreadable', with the reason), for the log to
   * rebuild from its batches. A file that exists but cannot be read (EIO, EMFILE) throws.
   */
  static load(directory: string): { cache: LeaderEpochCache; state: EpochCheckpointState; problem?: SluiceError } {
    const text = readTextCheckpoint(directory, leaderEpochCheckpointFile);
    if (text === undefined) return { cache: new LeaderEpochCache(directory), state: 'missing' };
    try {
      return { cache: new LeaderEpochCache(directory, parseLeaderEpochCheckpoint(text)), state: 'loaded' };
    } catch (error) {
      if (!SluiceError.is(error)) throw error;
      return { cache: new LeaderEpochCache(directory), state: 'unreadable', problem: error };
    }
  }

  get latestEpoch(): number | undefined {
    return this.#latest < 0 ? undefined : this.#latest;
  }

  /** True when a batch stamped `epoch` starts a new epoch (one compare: the append path's test). */
  isNewer(epoch: number): boolean {
    return epoch > this.#latest;
  }

  entries(): ReadonlyArray<EpochEntry> {
    return this.#entries.map((entry) => ({ ...entry }));
  }

  /**
   * Records that epoch `epoch` starts at `startOffset`. A no-op when it is the latest epoch and
   * starts no earlier than recorded; otherwise every entry at the newest end with an epoch ≥
   * `epoch` or a start ≥ `startOffset` goes, and the checkpoint is rewritten before this returns.
   * When the write fails the cache is unchanged and the storage error is thrown.
   */
  assign(epoch: number, startOffset: number): void {
    checkEntry(epoch, startOffset);
    const latest = this.#entries.at(-1);
    if (latest !== undefined && latest.epoch === epoch && startOffset >= latest.startOffset) return;
    const next = this.#entries.slice();
    while (next.length > 0 && (next.at(-1)!.epoch >= epoch || next.at(-1)!.startOffset >= startOffset)) next.pop();
    next.push({ epoch, startOffset });
    this.#replace(next);
  }

  /**
   * Kafka's EndOffset: the largest epoch ≤ `epoch` this log knows and the offset where the next
   * epoch begins (the log end for the latest epoch); (−1, −1) when `epoch` is −1 or newer than
   * every known epoch.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    const undefinedEpoch = { epoch: -1, endOffset: -1 };
    if (epoch === -1) return undefinedEpoch;
    if (epoch === this.#latest) return { epoch, endOffset: logEndOffset };
    const higher = this.#entries.findIndex((entry) => entry.epoch > epoch);
    if (higher < 0) return undefinedEpoch;
    const higherStart = this.#entries[higher]!.startOffset;
    if (higher === 0) return { epoch, endOffset: higherStart };
    return { epoch: this.#entries[higher - 1]!.epoch, endOffset: higherStart };
  }

  /** The log was truncated to `offset`: epochs that began at or past it are gone. */
  truncateFromEnd(offset: number): void {
    let keep = this.#entries.length;
    while (keep > 0 && this.#entries[keep - 1]!.startOffset >= offset) keep -= 1;
    if (keep < this.#entries.length) this.#replace(this.#entries.slice(0, keep), false);
  }

  /**
   * The log now starts at `offset`: entries starting at or below it go, except the last of them,
   * which now starts at `offset` (its epoch still covers the first records kept).
   */
  truncateFromStart(offset: number): void {
    let removed = 0;
    while (removed < this.#entries.length && this.#entries[removed]!.startOffset <= offset) removed += 1;
    if (removed === 0) return;
    const first = this.#entries[removed - 1]!;
    if (removed === 1 && first.startOffset === offset) return;
    this.#replace([{ epoch: first.epoch, startOffset: offset }, ...this.#entries.slice(removed)], false);
  }

  /**
   * Replaces every entry (a rebuild from the log's batches, or none when the log restarts
   * empty) and writes the checkpoint.
   */
  reset(entries: ReadonlyArray<EpochEntry>): void {
    for (let index = 0; index < entries.length; index += 1) {
      const entry = entries[index]!;
      checkEntry(entry.epoch, entry.startOffset);
      const before = entries[index - 1];
      if (before !== undefined && (entry.epoch <= before.epoch || entry.startOffset <= before.startOffset)) {
        throw new SluiceError('SLUICE_ERR_UNKNOWN', `leader epochs must rise in epoch and start offset; got (${before.epoch}, ${before.startOffset}) then (${entry.epoch}, ${entry.startOffset})`);
      }
    }
    this.#replace(entries.map((entry) => ({ ...entry })), false);
  }

  /**
   * With `fileFirst` (assign), a failed write leaves memory as it was, matching the file. The
   * others follow a log that has already changed, so memory changes regardless and the write
   * error is thrown after: the file is then stale, which the next open corrects (it cuts the
   * entries to the log's range).
   */
  #replace(entries: EpochEntry[], fileFirst = true): void {
    const text = formatLeaderEpochCheckpoint(entries);
    if (fileFirst) writeTextCheckpoint(this.directory, leaderEpochCheckpointFile, text);
    this.#entries = entries;
    this.#latest = entries.at(-1)?.epoch ?? -1;
    if (!fileFirst) writeTextCheckpoint(this.directory, leaderEpochCheckpointFile, text);
  }
}

function checkEntry(epoch: number, startOffset: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > int32Max || !Number.isSafeInteger(startOffset) || startOffset < 0) {
    throw new SluiceError('SLUICE_ERR_UNKNOWN', `a leader epoch entry needs an epoch in [0, 2^31) and a start offset ≥ 0; got (${epoch}, ${startOffset})`);
  }
}

export function formatLeaderEpochCheckpoint(entries: ReadonlyArray<EpochEntry>): string {
  let text = `0\n${entries.length}\n`;
  for (const { epoch, startOffset } of entries) text += `${epoch} ${startOffset}\n`;
  return text;
}

/**
 * Parses Kafka's leader-epoch-checkpoint text. Anything but version 0, the announced number of
 * `epoch startOffset` lines, and entries rising in both, is a SLUICE_ERR_STORAGE error naming
 * the line (the caller rebuilds the cache from the log).
 */
export function parseLeaderEpochCheckpoint(text: string): EpochEntry[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const fail = (what: string): never => {
    throw new SluiceError('SLUICE_ERR_STORAGE', `${leaderEpochCheckpointFile} is not a valid checkpoint (${what}); the log rebuilds it from its batches`);
  };
  if (lines[0]?.trim() !== '0') fail(`version line ${JSON.stringify(lines[0]?.slice(0, 40) ?? '')} is not 0`);
  const countText = lines[1]?.trim() ?? '';
  if (!/^\d{1,9}$/.test(countText)) fail(`count line ${JSON.stringify(countText.slice(0, 40))} is not a number`);
  const count = Number(countText);
  if (lines.length - 2 !== count) fail(`${count} entries announced, ${lines.length - 2} lines follow`);
  const entries: EpochEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    const line = lines[index + 2]!;
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 2 || !/^\d{1,10}$/.test(fields[0]!) || !/^\d{1,16}$/.test(fields[1]!)) fail(`line ${index + 3} ${JSON.stringify(line.slice(0, 40))} is not "epoch startOffset"`);
    const epoch = Number(fields[0]);
    const startOffset = Number(fields[1]);
    if (epoch > int32Max || !Number.isSafeInteger(startOffset)) fail(`line ${index + 3} is out of range`);
    const before = entries.at(-1);
    if (before !== undefined && (epoch <= before.epoch || startOffset <= before.startOffset)) fail(`line ${index + 3} does not rise above the line before`);
    entries.push({ epoch, startOffset });
  }
  return entries;
}
