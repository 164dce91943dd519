/**
 * Crash safety of the partition log under SIGKILL: a child appends as fast as it can and
 * prints each offset once `append` returned; we kill it at random moments (and sometimes right
 * after a roll) and check that every printed batch reads back byte-identical, that the log end
 * covers the last printed offset, and that appends continue with no gap and no reuse.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Log } from '../../broker/storage/log.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../helpers/batches.js';
import { seededRandom } from '../helpers/random.js';

const appender = path.resolve('dist/test/faults/fixtures/appender.js');
const segmentBytes = 256 * 1024;
const iterations = 24;

interface Printed {
  batch: number;
  baseOffset: number;
  lastOffset: number;
}

/** Runs the appender until it printed `linesWanted` appends (or killed itself), then SIGKILLs it. */
function runAndKill(directory: string, linesWanted: number, killAfterRolls: number): Promise<{ printed: Printed[]; openLine: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [appender, directory, String(segmentBytes)], {
      env: { ...process.env, KILL_AFTER_ROLLS: String(killAfterRolls) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const printed: Printed[] = [];
    let openLine = '';
    let pending = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('open ')) {
          openLine = line;
          continue;
        }
        const [batch, baseOffset, lastOffset] = line.split(' ').map(Number);
        printed.push({ batch: batch!, baseOffset: baseOffset!, lastOffset: lastOffset! });
        if (printed.length === linesWanted) child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`appender exited with ${code}: ${stderr}`));
      else resolve({ printed, openLine });
    });
  });
}

describe('partition log under kill -9', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-kill9-'));
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

  it(`keeps every acknowledged append across ${iterations} SIGKILLs, some during rolls`, async () => {
    const random = seededRandom(Number(process.env.SLUICE_SEED ?? 0x5eed));
    const acknowledged: Printed[] = [];
    let expectedEnd = 0;
    let killsAfterRoll = 0;
    let rollKillsRecoveringTwo = 0;
    for (let iteration = 0; iteration < iterations; iteration += 1) {
      const killAfterRolls = iteration % 3 === 2 ? 1 : 0;
      const { printed, openLine } = await runAndKill(directory, 1 + Math.floor(random() * 3000), killAfterRolls);
      killsAfterRoll += killAfterRolls;
      // The child reopened where the previous run left off: no gap, no reuse.
      expect(openLine.split(' ')[1], `iteration ${iteration}`).toBe(String(expectedEnd));
      if (printed.length > 0) expect(printed[0]!.baseOffset).toBe(expectedEnd);
      for (let index = 1; index < printed.length; index += 1) {
        expect(printed[index]!.baseOffset).toBe(printed[index - 1]!.lastOffset + 1);
      }
      acknowledged.push(...printed);

      const log = Log.open(directory, { config: { segmentBytes } });
      try {
        expect(log.loadReport.clean).toBe(false);
        expect(log.loadReport.segmentsChecked).toBeGreaterThanOrEqual(1);
        // A kill right after a roll leaves the sealed segment unsynced, so it is checked too
        // (unless the roll came before this run appended to it: then it was synced at close).
        if (killAfterRolls === 1 && log.loadReport.segmentsChecked >= 2) rollKillsRecoveringTwo += 1;
        const last = acknowledged[acknowledged.length - 1];
        if (last !== undefined) expect(log.logEndOffset).toBeGreaterThanOrEqual(last.lastOffset + 1);
        expect(log.logEndOffset % recordsPerTestBatch).toBe(0);
        for (const entry of printed) {
          const { slices } = log.read(entry.baseOffset, 1);
          const expected = withBaseOffset(testBatch(entry.batch), entry.baseOffset);
          expect(slices[0]!.subarray(0, expected.length).equals(expected), `batch ${entry.batch}`).toBe(true);
        }
        expectedEnd = log.logEndOffset;
      } finally {
        log.close();
      }
      // Every kill leaves an unclean log: drop the marker our own clean close just wrote.
      fs.rmSync(path.join(directory, '.clean-shutdown'), { force: true });
    }
    expect(killsAfterRoll).toBeGreaterThanOrEqual(5);
    expect(rollKillsRecoveringTwo).toBeGreaterThanOrEqual(3);
    // Everything acknowledged in any run is still there after the last one.
    const log = Log.open(directory, { config: { segmentBytes } });
    try {
      expect(log.segmentCount).toBeGreaterThan(2);
      for (const entry of acknowledged.filter((_, index) => index % 97 === 0)) {
        const { slices } = log.read(entry.baseOffset, 1);
        expect(slices[0]!.subarray(0, 12).readBigInt64BE(0)).toBe(BigInt(entry.baseOffset));
      }
    } finally {
      log.close();
    }
  }, 240_000);
});
