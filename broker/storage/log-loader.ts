/**
 * Opening a partition directory: finds the segments, decides which need recovery, and repairs
 * what a crash left behind.
 *
 * After a clean stop (marker present) every segment is trusted as written. Otherwise each
 * segment holding offsets at or past the recovery point (the last offset known synced) is
 * checked from its last index entry, batch by batch; the last segment always is. If a segment
 * that is not the last lost bytes and no longer reaches the next segment's base offset, the
 * later segments cannot be trusted to follow it and are deleted, as Kafka does.
 *
 * Two things truncation leaves (log.ts, #replaceTail): a segment sealed at a cut keeps its old
 * bytes past the cut until now, and is cut where the next segment begins; and a truncation
 * interrupted by a crash left its marker, so the cut is finished here before anything else.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  consumeCleanShutdownMarker, logStartOffsetFile, readOffsetCheckpoint, readTruncationMarker, recoveryPointFile, removeTruncationMarker,
  syncDirectory, writeOffsetCheckpoint,
} from './checkpoint.js';
import type { LogConfig } from './log-config.js';
import { cleanedSuffix } from './log-cleaner.js';
import { Segment, segmentFileName, setAsideSuffix } from './segment.js';

const segmentLogPattern = /^(\d{20})\.log$/;
const segmentIndexPattern = /^(\d{20})\.(index|timeindex|txnindex)$/;

export interface LoadReport {
  /** The previous stop wrote the clean-shutdown marker. */
  clean: boolean;
  segmentsChecked: number;
  /** Bytes cut from segment tails: torn or corrupt batches, and unused preallocation. */
  bytesTruncated: number;
  /** Segments dropped because an earlier one lost bytes. */
  segmentsDropped: number;
  indexesRebuilt: number;
  /** The leader-epoch checkpoint was missing or unreadable and was derived from the batches. */
  leaderEpochsRebuilt: boolean;
}

export function loadSegments(
  directory: string, config: LogConfig, startOffset: number, createSegment: (baseOffset: number) => Segment, syncsDirectory = true,
): { segments: Segment[]; report: LoadReport } {
  fs.mkdirSync(directory, { recursive: true });
  const clean = consumeCleanShutdownMarker(directory);
  if (!clean && syncsDirectory) syncDirectory(directory);
  const names = fs.readdirSync(directory);
  const bases = names.flatMap((name) => {
    const match = segmentLogPattern.exec(name);
    return match === null ? [] : [Number(match[1])];
  }).sort((a, b) => a - b);
  removeStrays(directory, names, new Set(bases));
  const truncation = readTruncationMarker(directory);
  if (truncation !== undefined) {
    const { offset, restart } = truncation;
    const doomed = bases.filter((base) => restart || base >= offset);
    for (const base of doomed) Segment.deleteFiles(directory, base);
    bases.splice(bases.length - doomed.length, doomed.length);
    if (restart) writeOffsetCheckpoint(directory, logStartOffsetFile, offset);
  }

  const report: LoadReport = { clean, segmentsChecked: 0, bytesTruncated: 0, segmentsDropped: 0, indexesRebuilt: 0, leaderEpochsRebuilt: false };
  if (bases.length === 0) {
    const segments = [createSegment(truncation?.offset ?? startOffset)];
    if (truncation !== undefined) removeTruncationMarker(directory);
    return { segments, report };
  }

  const recoveryPoint = Math.min(readOffsetCheckpoint(directory, recoveryPointFile) ?? 0, truncation?.offset ?? Infinity);
  const segments: Segment[] = [];
  try {
    openEach(segments, bases, directory, config, clean, recoveryPoint, report);
    if (truncation !== undefined) {
      report.bytesTruncated += segments.at(-1)!.cutTail(truncation.offset);
      removeTruncationMarker(directory);
    }
  } catch (error) {
    // Out of descriptors or memory part-way through: give back what was opened.
    for (const segment of segments) segment.discard();
    throw error;
  }
  return { segments, report };
}

function openEach(
  segments: Segment[], bases: number[], directory: string, config: LogConfig, clean: boolean, recoveryPoint: number, report: LoadReport,
): void {
  for (let index = 0; index < bases.length; index += 1) {
    const base = bases[index]!;
    const next = bases[index + 1];
    const last = next === undefined;
    const recover = !clean && (last || next > recoveryPoint);
    const segment = Segment.open(directory, base, config, { active: last, recover });
    segments.push(segment);
    // A segment sealed at a truncation's cut still holds the old batches past it.
    if (next !== undefined && segment.nextOffset > next) report.bytesTruncated += segment.cutTail(next);
    const result = segment.recovery;
    if (result !== undefined) {
      report.segmentsChecked += 1;
      report.bytesTruncated += result.truncatedBytes;
      if (result.indexRebuilt) report.indexesRebuilt += 1;
    }
    if (next !== undefined && segment.nextOffset < next && result !== undefined && result.truncatedBytes > 0) {
      report.segmentsDropped += dropFrom(directory, bases.slice(index + 1));
      reopenActive(segments, directory, config);
      break;
    }
  }
}

/** Index files without their log, half-written checkpoints, unfinished compactions, files a truncation set aside. */
function removeStrays(directory: string, names: string[], bases: Set<number>): void {
  for (const name of names) {
    const index = segmentIndexPattern.exec(name);
    if ((index !== null && !bases.has(Number(index[1]))) || name.endsWith('.tmp') || name.endsWith(cleanedSuffix) || name.endsWith(setAsideSuffix)) {
      fs.rmSync(path.join(directory, name), { force: true });
    }
  }
}

function dropFrom(directory: string, bases: number[]): number {
  for (const base of bases) Segment.deleteFiles(directory, base);
  return bases.length;
}

/** After dropping later segments, the new last segment must take appends again. */
function reopenActive(segments: Segment[], directory: string, config: LogConfig): void {
  const last = segments[segments.length - 1]!;
  segments[segments.length - 1] = Segment.open(directory, last.baseOffset, config, { active: true, recover: false });
  last.close();
}

/**
 * Lays out an empty log (its directory and the empty files of its first segment) on the thread
 * pool, removing whatever was there, so that `Log.open` then finds the files and only maps:
 * a new topic's thousands of file creations wait on the disk outside the event loop.
 */
export async function prepareEmptyLog(directory: string): Promise<void> {
  await fs.promises.rm(directory, { recursive: true, force: true });
  await fs.promises.mkdir(directory, { recursive: true });
  await Promise.all(['.log', '.index', '.timeindex'].map((suffix) =>
    fs.promises.writeFile(path.join(directory, segmentFileName(0, suffix as '.log' | '.index' | '.timeindex')), '')));
}
