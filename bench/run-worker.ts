/**
 * Runs bench/e2e-worker.js as a child process and returns the JSON line it prints last, so a
 * benchmark's client never shares a thread with the brokers or the coordinator. Workers still
 * running when a benchmark fails are killed by `killWorkers()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../proto/package-root.js';

const worker = path.join(packageRoot(import.meta.url), 'dist', 'bench', 'e2e-worker.js');
const running = new Set<ChildProcess>();

export function runWorker<T>(args: string[], timeoutMs = 600_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    running.add(child);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      running.delete(child);
      const line = stdout.trim().split('\n').pop();
      if (code !== 0 || line === undefined || line === '') reject(new Error(`worker ${args.join(' ')} exited ${code}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

export function killWorkers(): void {
  for (const child of running) child.kill('SIGKILL');
}
