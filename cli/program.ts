/**
 * The `sluice` command tree (main.ts runs it against process.argv). Built by a function so a
 * test can parse any command line in process, with its output captured.
 */
import { Command, type OutputConfiguration } from 'commander';
import { benchCommand } from './bench.js';
import { brokerCommand } from './broker.js';
import { clusterCommand } from './cluster.js';
import { consumeCommand } from './consume.js';
import { devClusterCommand } from './dev-cluster.js';
import { groupsCommand } from './groups.js';
import { produceCommand } from './produce.js';
import { shareCommand } from './share.js';
import { topicsCommand } from './topics.js';
import { transactionsCommand } from './transactions.js';

export function sluiceProgram(output?: OutputConfiguration): Command {
  const program = new Command('sluice')
    .description('a Kafka-style partitioned commit log: the broker, client commands and load tests')
    // Settings made here are inherited by every command added below.
    .exitOverride()
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText('after', '\nEvery client command takes --bootstrap HOST:PORT[,HOST:PORT...] (default 127.0.0.1:9400); `sluice COMMAND --help` shows its options.\n');
  if (output !== undefined) program.configureOutput(output);
  brokerCommand(program);
  topicsCommand(program);
  clusterCommand(program);
  produceCommand(program);
  consumeCommand(program);
  groupsCommand(program);
  shareCommand(program);
  transactionsCommand(program);
  benchCommand(program);
  devClusterCommand(program);
  return program;
}
