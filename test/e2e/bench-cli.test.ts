/**
 * `sluice bench` as users run it: a short run against a test broker writes a JSON result
 * whose counts match what the broker reports; its HTML report renders in a real headless
 * Chromium with charts full of data points, no console errors and no network requests; and
 * a run whose broker dies ends with a clear error and a partial result instead of hanging.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/load/result.js';
import { runCli } from '../helpers/cli.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const chromiumPath = '/usr/bin/chromium';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-test-'));

afterAll(async () => {
  await cleanupBrokers();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function bench(args: string[], onStderr?: (stderr: string) => void) {
  return runCli(['bench', ...args], { timeoutMs: 90_000, ...(onStderr === undefined ? {} : { onStderr }) });
}

function expectOrdered(latency: NonNullable<BenchResult['latency']>): void {
  const values = [latency.p50Ms, latency.p90Ms, latency.p99Ms, latency.p999Ms, latency.maxMs];
  expect(values[0]).toBeGreaterThan(0);
  for (let index = 1; index < values.length; index += 1) expect(values[index]).toBeGreaterThanOrEqual(values[index - 1]!);
}

describe('sluice bench', () => {
  const json = path.join(scratch, 'e2e.json');
  const report = path.join(scratch, 'e2e.html');

  it('writes a JSON result whose counts match the broker, with ordered positive percentiles', async () => {
    const broker = await startBroker();
    const produced = await bench(['produce', '--bootstrap', broker.bootstrap, '--topic', 'load', '--partitions', '3', '--records', '20000', '--producers', '2', '--json', path.join(scratch, 'produce.json')]);
    expect(produced.code, produced.stderr).toBe(0);
    const e2e = await bench(['e2e', '--bootstrap', broker.bootstrap, '--topic', 'load', '--rate', '5000', '--duration', '2', '--json', json, '--report', report]);
    expect(e2e.code, e2e.stderr).toBe(0);
    expect(e2e.stdout).toMatch(/send-to-receive latency: p50 [\d.]+ ms/);

    const produceResult = JSON.parse(fs.readFileSync(path.join(scratch, 'produce.json'), 'utf8')) as BenchResult;
    const e2eResult = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchResult;
    expect(produceResult.totals.records).toBe(20_000);
    expect(produceResult.partial).toBe(false);
    expectOrdered(produceResult.latency!);
    expectOrdered(e2eResult.latency!);
    expect(e2eResult.latency!.source).toBe('send-to-receive');
    expect(e2eResult.series.reduce((total, sample) => total + sample.records, 0)).toBe(e2eResult.totals.records);
    const topic = await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/topics/load`)).json() as { partitions: Array<{ logEndOffset: number }> };
    const onBroker = topic.partitions.reduce((total, partition) => total + partition.logEndOffset, 0);
    expect(onBroker).toBe(produceResult.totals.records + e2eResult.totals.records);
    expect(e2eResult.config.mode).toBe('e2e');

    const compared = await bench(['compare', path.join(scratch, 'produce.json'), json]);
    expect(compared.stdout).toMatch(/records\/s\s+[\d,]+\s+[\d,]+\s+[\d.]+/);
  });

  it.skipIf(!fs.existsSync(chromiumPath) && process.env.CI === undefined)('renders its HTML report in headless Chromium, offline and without errors', async () => {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('request', (request) => { if (!request.url().startsWith('file:')) requests.push(request.url()); });
      await page.goto(`file://${report}`);
      expect(await page.locator('svg.chart').count()).toBe(2);
      expect(await page.locator('svg.chart').first().locator('circle.point').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('svg.chart').nth(1).locator('circle.point').count()).toBe(5);
      const ys = await page.locator('svg.chart').first().locator('circle.point').evaluateAll((points) => points.map((point) => Number(point.getAttribute('data-y'))));
      expect(Math.max(...ys)).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('ends with a clear error and a partial result when the broker dies mid-run', async () => {
    const broker = await startBroker();
    const partial = path.join(scratch, 'partial.json');
    let killed = false;
    const run = bench(['produce', '--bootstrap', broker.bootstrap, '--topic', 'doomed', '--duration', '60', '--rate', '20000', '--json', partial], (stderr) => {
      if (!killed && /\d+ rec\/s/.test(stderr)) {
        killed = true;
        broker.child.kill('SIGKILL');
      }
    });
    await waitFor('the bench to report progress and the broker to be killed', () => killed, 30_000);
    const { code, stdout } = await run;
    expect(code).toBe(1);
    expect(stdout).toMatch(/ended early: .+ \(partial result\)/);
    const result = JSON.parse(fs.readFileSync(partial, 'utf8')) as BenchResult;
    expect(result.partial).toBe(true);
    expect(result.error).toBeTruthy();
    expect(result.totals.records).toBeGreaterThan(0);
  }, 120_000);
});
