/**
 * `sluice produce` against a broker that cannot store (every produce answered with a retriable
 * storage error): it prints the first delivery error (partition, record count, code, the
 * broker's message) as soon as the delivery timeout passes, and exits non-zero at the end of
 * input within the timeout, instead of retrying each queued batch in turn.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FakeBroker } from '../helpers/fake-broker.js';

const brokers: FakeBroker[] = [];
afterAll(async () => {
  for (const broker of brokers) await broker.close();
});

describe('sluice produce when the broker cannot store', () => {
  it('reports the delivery error and exits non-zero within --delivery-timeout-ms', async () => {
    const broker = await FakeBroker.start({ topics: { orders: 2 } });
    brokers.push(broker);
    const input = Array.from({ length: 3000 }, (_, index) => `line-${index}`).join('\n');
    let firstErrorAt: number | undefined;
    const started = Date.now();
    const result = await runCli(['produce', 'orders', '--delivery-timeout-ms', '3000', '--bootstrap', broker.bootstrap], {
      input,
      timeoutMs: 60_000,
      onStderr: (stderr) => { if (firstErrorAt === undefined && stderr.includes('delivery to orders/')) firstErrorAt = Date.now(); },
    });
    const exitedAfterMs = Date.now() - started;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sluice: delivery to orders\/[01] timed out: \d+ records? (still queued|not acknowledged) 3000 ms after send\(\); last error: no space left on device \(ENOSPC\) writing segment 0 \[SLUICE_ERR_STORAGE\].* \[SLUICE_ERR_TIMEOUT\]$/m);
    expect(result.stderr).toMatch(/^sluice: 3000 of 3000 records were not confirmed delivered/m);
    // Only the first error is printed, as soon as it happens: the exit follows it.
    expect(result.stderr.match(/delivery to orders/g)).toHaveLength(1);
    expect(firstErrorAt! - started).toBeGreaterThanOrEqual(3000);
    // Within the timeout plus start-up, not one retry cycle per queued batch (~26 s each).
    expect(exitedAfterMs).toBeLessThan(3000 + 4000);
    expect(broker.produces.length).toBeGreaterThan(2);
  });
});
