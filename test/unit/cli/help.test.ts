/**
 * Every `sluice` command and subcommand answers -h and --help with its usage (options, defaults,
 * an example) on stdout, and refuses an unknown option with its usage on stderr. Parsed in
 * process: test/e2e/cli-help.test.ts checks the same through a real process, with exit codes.
 */
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { sluiceProgram } from '../../../cli/program.js';

const commands = [
  ['broker'],
  ['topics'], ['topics', 'create'], ['topics', 'list'], ['topics', 'describe'], ['topics', 'delete'],
  ['cluster'], ['cluster', 'brokers'], ['cluster', 'elect-leaders'],
  ['produce'],
  ['consume'],
  ['groups'], ['groups', 'list'], ['groups', 'describe'], ['groups', 'reset-offsets'], ['groups', 'alter'], ['share'], ['share', 'describe'], ['transactions'], ['transactions', 'list'], ['transactions', 'describe'],
  ['bench'], ['bench', 'produce'], ['bench', 'consume'], ['bench', 'e2e'], ['bench', 'compare'],
  ['dev-cluster'],
];

/** Commands with options that have defaults show them. */
const withDefaults = new Set(['broker', 'topics create', 'produce', 'consume', 'bench produce', 'bench consume', 'bench e2e', 'dev-cluster']);

/** Parses `args` as `sluice` would, returning what it printed and commander's exit code (main.ts turns a non-zero one into 2). */
async function parse(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const program = sluiceProgram({ writeOut: (text) => { stdout += text; }, writeErr: (text) => { stderr += text; } });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return { exitCode: error.exitCode, stdout, stderr };
  }
  throw new Error(`sluice ${args.join(' ')} ran its command instead of stopping at the usage`);
}

describe('sluice COMMAND --help', () => {
  it.each(commands.map((command) => [command.join(' '), command]))('sluice %s answers -h and --help, and refuses an unknown option with its usage', async (name, command) => {
    for (const flag of ['--help', '-h']) {
      const result = await parse([...command, flag]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Usage: sluice ${name} `);
      expect(result.stdout).toMatch(/Options:\n {2}(--|-h)/);
      expect(result.stdout).toMatch(/Examples?:\n {2}\$ sluice /);
      if (withDefaults.has(name as string)) expect(result.stdout).toContain('(default: ');
      expect(result.stderr).toBe('');
    }
    const wrong = await parse([...command, '--no-such-flag']);
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).toMatch(/^error: unknown option '--no-such-flag'/);
    expect(wrong.stderr).toContain(`Usage: sluice ${name} `);
    expect(wrong.stdout).toBe('');
  });
});
