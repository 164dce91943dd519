#!/usr/bin/env node
/**
 * `sluice`: the command line. Scripts depend on these forms, so they stay stable:
 *
 *   sluice broker [--data DIR] [--listen HOST:PORT] [--http-listen HOST:PORT] ...
 *   sluice topics create NAME --partitions N [--replication-factor R] [--config k=v ...] | list | describe NAME | delete NAME
 *   sluice cluster brokers | elect-leaders --preferred|--unclean [--topic T [--partition P]]
 *   sluice produce TOPIC [--key-separator SEP] [--acks 0|1|all] [--compression none|gzip|snappy|lz4|zstd] [--delivery-timeout-ms N]
 *                        [--no-idempotence] [--transactional-id ID]
 *   sluice consume TOPIC [--partition P] [--offset earliest|latest|N] [--from-time ISO8601|epoch-ms]
 *                        [--max-messages N] [--follow] [--print-key] [--print-offset] [--group G]
 *                        | --share-group G [--reject-pattern REGEX] [--idle-ms N]
 *   sluice groups list | describe G | reset-offsets G --topic T --to-earliest|--to-latest|--to-offset N|--to-time T
 *                 | alter G --config KEY=VALUE... [--delete-config KEY...]
 *   sluice share describe G
 *   sluice transactions list [--state S] | describe ID...
 *   sluice bench produce|consume|e2e [flags] [--verify [--acks-file F]] [--replication-factor R] [--topic-config k=v]
 *                [--no-idempotence] [--transactional-id ID --records-per-txn N]
 *                | verify --acks-file F | compare A.json B.json
 *   sluice dev-cluster [--brokers N] [--data DIR] [--base-port P]
 *
 * Parsing and help come from commander (every command and subcommand answers -h/--help with
 * its options, defaults and an example). Client commands take --bootstrap HOST:PORT (default
 * 127.0.0.1:9400). Help exits 0; a usage error prints the usage on stderr and exits 2; any
 * other error ends the command with one line on stderr and exit 1.
 */
import { CommanderError } from 'commander';
import { describeError } from './describe-error.js';
import { sluiceProgram } from './program.js';

const program = sluiceProgram();

// A reader that stops early (`sluice topics list | head -1`) is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

async function main(argv: string[]): Promise<void> {
  if (argv.length === 0) {
    program.outputHelp();
    return;
  }
  await program.parseAsync(argv, { from: 'user' });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // Commander has already printed the help or the usage error.
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return;
    process.exit(2);
  }
  process.stderr.write(`sluice: ${describeError(error)}\n`);
  process.exit(1);
});
