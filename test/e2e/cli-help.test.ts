/**
 * Every `sluice` command and subcommand answers -h and --help with its usage (options,
 * defaults, an example) on stdout and exit 0; an unknown option prints the usage on stderr
 * and exits 2.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const commands = [
  ['broker'],
  ['topics'], ['topics', 'create'], ['topics', 'list'], ['topics', 'describe'], ['topics', 'delete'],
  ['produce'],
  ['consume'],
  ['groups'], ['groups', 'list'], ['groups', 'describe'], ['groups', 'reset-offsets'], ['groups', 'alter'], ['share'], ['share', 'describe'], ['transactions'], ['transactions', 'list'], ['transactions', 'describe'],
  ['bench'], ['bench', 'produce'], ['bench', 'consume'], ['bench', 'e2e'], ['bench', 'compare'],
];

/** Commands with options that have defaults show them. */
const withDefaults = new Set(['broker', 'topics create', 'produce', 'consume', 'bench produce', 'bench consume', 'bench e2e']);

describe('sluice --help', () => {
  it('prints the top-level usage listing every command', async () => {
    for (const args of [[], ['--help'], ['-h'], ['help']]) {
      const result = await runCli(args, { timeoutMs: 10_000 });
      expect(result.code, `sluice ${args.join(' ')}: ${result.stderr}`).toBe(0);
      for (const command of ['broker', 'topics', 'produce', 'consume', 'groups', 'transactions', 'bench']) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it.each(commands.map((command) => [command.join(' '), command]))('sluice %s answers -h and --help, and refuses an unknown option with its usage', async (name, command) => {
    for (const flag of ['--help', '-h']) {
      const result = await runCli([...command, flag], { timeoutMs: 10_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Usage: sluice ${name} `);
      expect(result.stdout).toMatch(/Options:\n {2}(--|-h)/);
      expect(result.stdout).toMatch(/Examples?:\n {2}\$ sluice /);
      if (withDefaults.has(name as string)) expect(result.stdout).toContain('(default: ');
      expect(result.stderr).toBe('');
    }
    const wrong = await runCli([...command, '--no-such-flag'], { timeoutMs: 10_000 });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error: unknown option '--no-such-flag'/);
    expect(wrong.stderr).toContain(`Usage: sluice ${name} `);
    expect(wrong.stdout).toBe('');
  });
});
