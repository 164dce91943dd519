/**
 * Replay: seeking to a middle offset or to a time returns exactly the expected suffix, from
 * the client and from the CLI; `sluice consume --follow` sees records produced after it
 * started.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { cliEntry, runCli } from '../helpers/cli.js';

const baseTime = 1_750_000_000_000;

describe('replay', () => {
  let broker: BrokerProcess;
  let sluice: Sluice;
  beforeAll(async () => {
    broker = await startBroker();
    sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('replay', { partitions: 1, configs: { 'segment.bytes': '16384' } });
    const producer = sluice.producer();
    await producer.send({ topic: 'replay', messages: Array.from({ length: 1000 }, (_, index) => ({ value: `record-${index}`, timestamp: baseTime + index * 1000 })) });
  });
  afterAll(async () => {
    await sluice.close();
    await cleanupBrokers();
  });

  it('returns exactly the suffix from a middle offset and from a time', async () => {
    const consumer = sluice.consumer();
    consumer.assign([{ topic: 'replay', partition: 0, offset: 0 }]);
    for (const [target, first] of [[617, 617], [{ timestamp: baseTime + 250_500 }, 251], ['earliest', 0]] as const) {
      const start = await consumer.seek('replay', 0, target);
      expect(start).toBe(first);
      const values: string[] = [];
      const deadline = Date.now() + 10_000;
      while (values.length < 1000 - first && Date.now() < deadline) {
        for (const record of await consumer.poll({ timeoutMs: 500 })) values.push(record.value!.toString());
      }
      expect(values).toEqual(Array.from({ length: 1000 - first }, (_, index) => `record-${first + index}`));
    }
    expect(await consumer.seek('replay', 0, 'latest')).toBe(1000);
    await consumer.close();
  });

  it('replays from the CLI by offset and by time', async () => {
    const byOffset = await runCli(['consume', 'replay', '--offset', '990', '--print-offset', '--bootstrap', broker.bootstrap]);
    expect(byOffset.code, byOffset.stderr).toBe(0);
    expect(byOffset.stdout.trim().split('\n')).toEqual(Array.from({ length: 10 }, (_, index) => `0:${990 + index}\trecord-${990 + index}`));
    const byTime = await runCli(['consume', 'replay', '--from-time', new Date(baseTime + 995_000).toISOString(), '--bootstrap', broker.bootstrap]);
    expect(byTime.stdout.trim().split('\n')).toEqual(['record-995', 'record-996', 'record-997', 'record-998', 'record-999']);
    const outOfRange = await runCli(['consume', 'replay', '--offset', '5000', '--bootstrap', broker.bootstrap]);
    expect(outOfRange.code).not.toBe(0);
    expect(outOfRange.stderr).toMatch(/offset 5000 is outside .*\[0, 1000\)/);
  });

  it('follows the live end with --follow', async () => {
    const child = spawn(process.execPath, [cliEntry, 'consume', 'replay', '--offset', 'latest', '--follow', '--bootstrap', broker.bootstrap], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const producer = sluice.producer();
      // Keep producing until the follower shows it is attached and saw a live record.
      await waitFor('the follower to print a live record', async () => {
        await producer.send({ topic: 'replay', messages: [{ value: 'live' }] });
        return stdout.includes('live\n');
      }, 15_000);
      await producer.send({ topic: 'replay', messages: [{ value: 'after-follow' }] });
      await waitFor('the follower to print the next record', () => stdout.includes('after-follow\n'));
      expect(stdout).not.toContain('record-');
    } finally {
      clearTimeout(killer);
      child.kill('SIGTERM');
    }
  });
});
