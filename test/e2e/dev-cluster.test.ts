/**
 * `sluice dev-cluster`: one command starts etcd and N brokers, prints their bootstrap list,
 * the brokers form a cluster with a controller, and Ctrl-C (SIGINT) stops every process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/etcd-process.js';
import { waitFor } from '../helpers/broker-process.js';
import { cliEntry, runCli } from '../helpers/cli.js';

const children: Array<ReturnType<typeof spawn>> = [];
const emptyPath = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-empty-path-'));
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(emptyPath, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('sluice dev-cluster', () => {
  it('starts etcd and two brokers that form a cluster, and stops them all on SIGINT', async () => {
    // Brokers at BASE, BASE+1, HTTP at +100, etcd at +200/+201, Kafka (as asked) at +300: find a base with room.
    const basePort = 20_000 + ((await freePort()) % 20_000);
    const child = spawn(process.execPath, [
      cliEntry, 'dev-cluster', '--brokers', '2', '--base-port', String(basePort), '--kafka-base-port', String(basePort + 300), '--session-timeout-ms', '2000',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('the bootstrap list', () => stdout.includes('\n'), 60_000);
    const bootstrap = stdout.trim();
    expect(bootstrap).toBe(`127.0.0.1:${basePort},127.0.0.1:${basePort + 1}`);

    await waitFor('two live brokers and a controller', async () => {
      const result = await runCli(['cluster', 'brokers', '--json', '--bootstrap', bootstrap]);
      if (result.code !== 0) return false;
      const cluster = JSON.parse(result.stdout) as { controllerId: number; brokers: Array<{ nodeId: number; alive: boolean }> };
      return cluster.controllerId > 0 && cluster.brokers.filter((broker) => broker.alive).map((broker) => broker.nodeId).sort().join() === '1,2';
    }, 30_000);

    expect(stderr).toContain(`Kafka clients: 127.0.0.1:${basePort + 300},127.0.0.1:${basePort + 301}`);

    const pids = [...stderr.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopping the brokers');
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 120_000);

  it('says in one line how to install etcd when it is not on PATH', async () => {
    const child = spawn(process.execPath, [cliEntry, 'dev-cluster', '--brokers', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: emptyPath },
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('apt-get install etcd-server');
  }, 30_000);
});
