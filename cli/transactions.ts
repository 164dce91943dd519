/** `sluice transactions list|describe`: the transaction coordinators' view of transactional ids. */
import type { Command } from 'commander';
import { withAdmin } from './connect.js';
import { describeError } from './describe-error.js';
import { withBootstrap, withExamples } from './options.js';
import { table } from './table.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function transactionsCommand(program: Command): void {
  const transactions = withBootstrap(program.command('transactions').description('transactional producers: list them, describe one (state, partitions, timeout, producer id/epoch)'));
  withExamples(transactions, 'sluice transactions list', 'sluice transactions describe orders-app');

  withExamples(transactions.command('list').description('every transactional id the coordinators know, with its state and producer id')
    .option('--state <state>', 'only in this state (repeatable): Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, ...', collect, [])
    .option('--json', 'print JSON')
    .action((options: { state: string[]; json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const listings = await admin.listTransactions({ states: options.state });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(listings)}\n`);
        return;
      }
      process.stdout.write(table(['TRANSACTIONAL ID', 'STATE', 'PRODUCER ID', 'COORDINATOR'], listings.map((entry) => [entry.transactionalId, entry.state, entry.producerId, entry.coordinatorId])));
    })), 'sluice transactions list --state Ongoing');

  withExamples(transactions.command('describe').argument('<id...>', 'transactional ids')
    .description('state, open transaction\'s partitions and start, timeout, producer id and epoch, coordinator')
    .option('--json', 'print JSON')
    .action((ids: string[], options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const described = await admin.describeTransactions(ids);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(described.map((entry) => ({ ...entry, error: entry.error === undefined ? undefined : { code: entry.error.code, message: entry.error.detail } })))}\n`);
        return;
      }
      const found = described.filter((entry) => entry.error === undefined);
      if (found.length > 0) {
        process.stdout.write(table(['TRANSACTIONAL ID', 'STATE', 'PRODUCER ID', 'EPOCH', 'TIMEOUT MS', 'STARTED', 'COORDINATOR', 'PARTITIONS'], found.map((entry) => [
          entry.transactionalId, entry.state, entry.producerId, entry.producerEpoch, entry.transactionTimeoutMs,
          entry.transactionStartTimeMs < 0 ? '-' : new Date(entry.transactionStartTimeMs).toISOString(), entry.coordinatorId,
          entry.partitions.length === 0 ? '-' : entry.partitions.map((partition) => `${partition.topic}/${partition.partition}`).join(' '),
        ])));
      }
      // Ids the coordinators could not describe: one line each on stderr, and exit 1.
      for (const entry of described) if (entry.error !== undefined) process.stderr.write(`sluice: ${entry.transactionalId}: ${describeError(entry.error)}\n`);
      if (found.length < described.length) process.exitCode = 1;
    })), 'sluice transactions describe orders-app --json');
}
