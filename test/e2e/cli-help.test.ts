/**
 * The `sluice` process answers help on stdout with exit 0 and a usage error on stderr with exit
 * 2. Every command's help is checked in process (test/unit/cli/help.test.ts); here the real
 * process, for the top level and one subcommand.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('sluice --help', () => {
  it('prints the top-level usage listing every command', async () => {
    for (const args of [[], ['--help'], ['-h'], ['help']]) {
      const result = await runCli(args, { timeoutMs: 10_000 });
      expect(result.code, `sluice ${args.join(' ')}: ${result.stderr}`).toBe(0);
      for (const command of ['broker', 'topics', 'cluster', 'produce', 'consume', 'groups', 'share', 'transactions', 'bench', 'dev-cluster']) {
        expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
      }
    }
  });

  it('answers a subcommand\'s --help with exit 0 and an unknown option with its usage and exit 2', async () => {
    const help = await runCli(['topics', 'create', '--help'], { timeoutMs: 10_000 });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: sluice topics create ');
    expect(help.stderr).toBe('');
    const wrong = await runCli(['topics', 'create', '--no-such-flag'], { timeoutMs: 10_000 });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error: unknown option '--no-such-flag'/);
    expect(wrong.stderr).toContain('Usage: sluice topics create ');
    expect(wrong.stdout).toBe('');
  });
});
