#!/usr/bin/env node
/**
 * `sluice`: the command line. Scripts depend on these forms, so they stay stable:
 *
 *   sluice broker [--data DIR] [--listen HOST:PORT] [--http-listen HOST:PORT]
 *   sluice topics create NAME --partitions N [--config k=v ...] | list | describe NAME | delete NAME
 *   sluice produce TOPIC [--key-separator SEP] [--acks 0|1|all] [--compression none|lz4]
 *   sluice consume TOPIC [--partition P] [--offset earliest|latest|N] [--from-time ISO8601|epoch-ms]
 *                        [--max-messages N] [--follow] [--print-key] [--print-offset] [--group G]
 *   sluice groups list | describe G | reset-offsets G --topic T --to-earliest|--to-latest|--to-offset N|--to-time T
 *
 * Client commands take --bootstrap HOST:PORT (default 127.0.0.1:9400). Any error ends the
 * command with one line on stderr and a non-zero exit.
 */
import { SluiceError } from '../proto/errors.js';
import { consumeCommand } from './consume.js';
import { groupsCommand } from './groups.js';
import { produceCommand } from './produce.js';
import { topicsCommand } from './topics.js';

const usage = `usage: sluice <command> [options]

commands:
  broker     start a broker (sluice broker --help)
  topics     create, list, describe or delete topics
  produce    send stdin lines as records
  consume    print records, from an offset, a time, or the live end
  groups     consumer groups: list, describe (lag), reset-offsets
  bench      load tests with live progress, percentiles, JSON and HTML reports

every client command takes --bootstrap HOST:PORT (default 127.0.0.1:9400)`;

export class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'broker': {
      const { runBroker } = await import('./broker.js');
      return runBroker(rest);
    }
    case 'topics':
      return topicsCommand(rest);
    case 'produce':
      return produceCommand(rest);
    case 'consume':
      return consumeCommand(rest);
    case 'groups':
      return groupsCommand(rest);
    case 'bench': {
      const { benchCommand } = await import('./bench.js');
      return benchCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${usage}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n${usage}`);
  }
}

/** One line a person can act on: the error's message, without a stack. */
export function describeError(error: unknown): string {
  if (SluiceError.is(error)) {
    if (error.code === 'SLUICE_ERR_CONNECTION') return `${error.detail} — is a broker running there? (start one with: sluice broker)`;
    return `${error.detail} [${error.code}]`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`sluice: ${describeError(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
