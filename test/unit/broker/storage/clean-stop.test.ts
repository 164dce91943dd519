/**
 * A clean stop of many logs (CleanStop): each log's close writes its checkpoints without syncing
 * and leaves no marker; the one filesystem sync comes first, then every marker. A sync that
 * fails writes no marker, so the next start recovers those logs as after a crash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanShutdownFile, readOffsetCheckpoint, recoveryPointFile } from '../../../../broker/storage/checkpoint.js';
import { CleanStop } from '../../../../broker/storage/clean-stop.js';
import { Log } from '../../../../broker/storage/log.js';
import { recordsPerTestBatch, testBatch } from '../../../helpers/batches.js';

let root: string;
beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-clean-stop-')); });
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function writtenLogs(count: number): Log[] {
  return Array.from({ length: count }, (_, index) => {
    const log = Log.open(path.join(root, `log-${index}`));
    for (let batch = 0; batch <= index; batch += 1) log.append(testBatch(batch));
    return log;
  });
}

describe('CleanStop', () => {
  it('writes every marker only after the one sync, and the logs open clean with their records', () => {
    const logs = writtenLogs(3);
    const stop = new CleanStop();
    for (const log of logs) log.close(stop);
    for (const log of logs) {
      expect(fs.existsSync(path.join(log.directory, cleanShutdownFile))).toBe(false);
      expect(readOffsetCheckpoint(log.directory, recoveryPointFile)).toBe(log.logEndOffset);
    }
    stop.finish(root);
    for (const [index, log] of logs.entries()) {
      expect(fs.existsSync(path.join(log.directory, cleanShutdownFile))).toBe(true);
      const reopened = Log.open(log.directory);
      expect(reopened.logEndOffset).toBe((index + 1) * recordsPerTestBatch);
      expect(reopened.recoveryPoint).toBe(reopened.logEndOffset);
      reopened.close();
    }
  });

  it('writes no marker when the sync fails', () => {
    const logs = writtenLogs(2);
    const stop = new CleanStop();
    for (const log of logs) log.close(stop);
    expect(() => stop.finish(path.join(root, 'no-such-directory'))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    for (const log of logs) expect(fs.existsSync(path.join(log.directory, cleanShutdownFile))).toBe(false);
  });
});
