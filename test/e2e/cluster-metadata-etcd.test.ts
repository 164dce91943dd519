/**
 * The etcd launcher the cluster tests, benchmarks and dev-cluster stand on: real members on
 * free ports, healthy before it returns, stoppable, restartable on the same data, pausable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { etcdBinary, startEtcd } from '../../bench/etcd-process.js';
import { cleanupEtcd, startTestEtcd } from '../helpers/etcd.js';

async function health(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(300) });
    return ((await response.json()) as { health: string }).health === 'true';
  } catch {
    return false;
  }
}

describe('etcd process', () => {
  afterEach(cleanupEtcd);

  it('starts one member that answers /health, stops it and can start it again on the same data', async () => {
    const etcd = await startTestEtcd();
    const member = etcd.members[0]!;
    expect(await health(member.clientUrl)).toBe(true);
    await member.stop();
    expect(member.pid).toBeNull();
    expect(await health(member.clientUrl)).toBe(false);
    await member.start();
    expect(await health(member.clientUrl)).toBe(true);
  });

  it('pauses and resumes a member', async () => {
    const etcd = await startTestEtcd();
    const member = etcd.members[0]!;
    member.pause();
    expect(await health(member.clientUrl)).toBe(false);
    member.resume();
    expect(await health(member.clientUrl)).toBe(true);
  });

  it('starts three members that form one cluster', async () => {
    const etcd = await startTestEtcd({ members: 3 });
    expect(etcd.endpoints).toHaveLength(3);
    for (const url of etcd.endpoints) expect(await health(url)).toBe(true);
  });

  it('says how to install etcd when it is not on PATH', async () => {
    const saved = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      expect(() => etcdBinary()).toThrow('apt-get install etcd-server');
      await expect(startEtcd()).rejects.toThrow('apt-get install etcd-server');
    } finally {
      process.env['PATH'] = saved;
    }
  });
});
