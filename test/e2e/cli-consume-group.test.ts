/**
 * `sluice consume --group` without --follow joins the group: two commands started together
 * share the partitions and read distinct records, each stopping when it has caught up with its
 * partitions or reached --max-messages; the group's offsets then cover everything. A member
 * given no partition says so and ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';

let broker: BrokerProcess;
let sluice: Sluice;

beforeAll(async () => {
  // Both members join within the initial delay, so they land in one generation.
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '1000'] });
  sluice = new Sluice({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await sluice.close();
  await cleanupBrokers();
});

const lines = (stdout: string) => stdout.split('\n').filter((line) => line !== '');

describe('sluice consume --group', () => {
  it('shares the partitions between two members started together: 8,000 distinct records between them', async () => {
    await sluice.admin().createTopic('orders', { partitions: 4 });
    await sluice.producer().send({ topic: 'orders', messages: Array.from({ length: 8000 }, (_, index) => ({ value: `order-${index}`, partition: index % 4 })) });
    const args = ['consume', 'orders', '--group', 'billing', '--max-messages', '4000', '--bootstrap', broker.bootstrap];
    const [first, second] = await Promise.all([runCli(args, { timeoutMs: 45_000 }), runCli(args, { timeoutMs: 45_000 })]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const [one, two] = [lines(first.stdout), lines(second.stdout)];
    expect(one.length).toBeGreaterThan(0);
    expect(two.length).toBeGreaterThan(0);
    const all = [...one, ...two];
    expect(all).toHaveLength(8000);
    expect(new Set(all).size).toBe(8000);
    const described = await sluice.admin().describeGroup('billing');
    expect(described.state).toBe('Empty');
    expect(described.partitions.map((partition) => partition.committedOffset)).toEqual([2000, 2000, 2000, 2000]);
  });

  it('ends a member that was assigned no partition, saying so', async () => {
    await sluice.admin().createTopic('single', { partitions: 1 });
    await sluice.producer().send({ topic: 'single', messages: Array.from({ length: 50 }, (_, index) => ({ value: `s-${index}` })) });
    const args = ['consume', 'single', '--group', 'pair', '--bootstrap', broker.bootstrap];
    const results = await Promise.all([runCli(args, { timeoutMs: 45_000 }), runCli(args, { timeoutMs: 45_000 })]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const idle = results.filter((result) => result.stdout === '');
    expect(idle).toHaveLength(1);
    expect(idle[0]!.stderr).toMatch(/this member of group pair was assigned no partition of single/);
    expect(lines(results.find((result) => result.stdout !== '')!.stdout)).toEqual(Array.from({ length: 50 }, (_, index) => `s-${index}`));
  });
});
