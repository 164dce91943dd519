/**
 * Runs a bench script (dist/bench/NAME.js) as a user would, with a TMPDIR of its own, so a test
 * sees exactly which processes and files it leaves behind; `cleanup` kills and removes whatever
 * a failed test left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliEntry } from '../../bench/broker-process.js';

/** Pids of processes whose command line or environment mentions `text` (brokers get --data under it, workers and kcat inherit TMPDIR). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text) || fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

export function benchRunner(name: string) {
  const entry = path.join(path.dirname(path.dirname(cliEntry)), 'bench', `${name}.js`);
  const scratches: string[] = [];
  return {
    run(args: string[], onStderr?: (stderr: string, child: ChildProcess) => void) {
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${name}-bench-test-`));
      scratches.push(scratch);
      const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: scratch } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        onStderr?.(stderr, child);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
      const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      return { scratch, exited };
    },
    /** Runs the bench and sends it SIGINT once its progress output shows `marker`. */
    async interruptAt(args: string[], marker: string) {
      let interrupted = false;
      const { scratch, exited } = this.run(args, (stderr, child) => {
        if (!interrupted && stderr.includes(marker)) {
          interrupted = true;
          child.kill('SIGINT');
        }
      });
      const result = await exited;
      return { scratch, interrupted, ...result };
    },
    cleanup() {
      for (const scratch of scratches) {
        for (const pid of processesMentioning(scratch)) process.kill(pid, 'SIGKILL');
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
}
