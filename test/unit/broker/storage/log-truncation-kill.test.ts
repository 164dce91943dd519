/**
 * Truncation under SIGKILL: a child appends and truncates at random (fixtures/truncating-
 * writer.ts) and is killed at random moments, often right as it starts a truncation. The log it
 * leaves must read back, byte for byte, as the log after every operation it finished, or after
 * the one it was in (never a mix), and must take the next run's appends and truncations.
 *
 * Needs the build (`npm run build`, run by `npm test`): the child runs from dist/.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';
import { logBatches } from '../../../helpers/log-contents.js';
import { seededRandom } from '../../../helpers/random.js';

const writer = path.resolve('dist/test/unit/broker/storage/fixtures/truncating-writer.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-truncation-kill-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

type Operation = { kind: 'a'; batch: number } | { kind: 't'; offset: number };

/** Batches by number, in log order: batch n of the test helper, stored at offset 10·index. */
function apply(log: number[], operation: Operation): number[] {
  if (operation.kind === 'a') return [...log, operation.batch];
  // A cut inside a batch drops the whole batch.
  return log.slice(0, Math.floor(operation.offset / recordsPerTestBatch));
}

/** Runs the writer until `killAt` says so (or 10 s pass), SIGKILLs it, returns what it printed. */
function runAndKill(directory: string, seed: number, firstBatch: number, killAt: (line: string, oks: number) => boolean): Promise<{ operations: Operation[]; finished: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, directory, String(seed), String(firstBatch)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const operations: Operation[] = [];
    let finished = 0;
    let pending = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [kind, value] = line.split(' ');
        if (kind === 'a') operations.push({ kind: 'a', batch: Number(value) });
        else if (kind === 't') operations.push({ kind: 't', offset: Number(value) });
        else if (kind === 'ok') finished += 1;
        if (killAt(line, finished)) child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code}: ${stderr}`));
      else resolve({ operations, finished });
    });
  });
}

describe('truncation under kill -9', () => {
  it('leaves the log after the last finished operation or the one cut short, across 16 crashes', async () => {
    expect(fs.existsSync(writer), 'run npm run build first').toBe(true);
    const directory = path.join(root, 'log');
    const random = seededRandom(20_261_201);
    let expected: number[] = [];
    let truncationsCutShort = 0;
    for (let run = 0; run < 16; run += 1) {
      const firstBatch = run * 100_000;
      const truncationsBeforeKill = 1 + Math.floor(random() * 6);
      const oksBeforeKill = 20 + Math.floor(random() * 300);
      const atTruncation = run % 2 === 0;
      let truncations = 0;
      const { operations, finished } = await runAndKill(directory, 1000 + run, firstBatch, (line, oks) => {
        if (line.startsWith('t ')) truncations += 1;
        return atTruncation ? line.startsWith('t ') && truncations === truncationsBeforeKill : oks === oksBeforeKill;
      });
      const done = operations.slice(0, finished).reduce(apply, expected);
      const inFlight = operations[finished];
      const candidates = inFlight === undefined ? [done] : [done, apply(done, inFlight)];
      if (inFlight?.kind === 't') truncationsCutShort += 1;

      // Check a copy: the next run must find the crashed directory as the kill left it.
      const copy = path.join(root, `check-${run}`);
      fs.cpSync(directory, copy, { recursive: true });
      const log = Log.open(copy);
      const batches = logBatches(log);
      log.close();
      fs.rmSync(copy, { recursive: true, force: true });
      const context = `run ${run}: ${finished} operations finished, in flight ${JSON.stringify(inFlight)}`;
      const match = candidates.find((candidate) => candidate.length === batches.length
        && candidate.every((n, index) => batches[index]!.equals(withBaseOffset(testBatch(n), index * recordsPerTestBatch))));
      expect(match, context).toBeDefined();
      expected = match!;
    }
    // Most kills at a truncation's start land inside it; at least some must, or this tests nothing.
    expect(truncationsCutShort).toBeGreaterThan(0);
  });
});
