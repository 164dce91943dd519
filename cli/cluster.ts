/** `sluice cluster brokers` and `sluice cluster elect-leaders --preferred [--topic T [--partition P]]`. */
import type { Command } from 'commander';
import { withAdmin } from './connect.js';
import { describeError } from './describe-error.js';
import { wholeNumber, withBootstrap, withExamples } from './options.js';
import { table } from './table.js';

interface ElectFlags {
  preferred?: boolean;
  unclean?: boolean;
  topic?: string;
  partition?: number;
  json?: boolean;
}

export function clusterCommand(program: Command): void {
  const cluster = withBootstrap(program.command('cluster').description('the brokers of a cluster, and leader elections'));
  withExamples(cluster, 'sluice cluster brokers --bootstrap 127.0.0.1:9400,127.0.0.1:9401');

  withExamples(cluster.command('brokers').description('every broker: id, address, rack, alive, controller, partitions it leads')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const described = await admin.describeCluster();
      if (options.json) {
        process.stdout.write(`${JSON.stringify(described)}\n`);
        return;
      }
      process.stdout.write(table(['id', 'address', 'rack', 'alive', 'controller', 'leaders'], described.brokers.map((broker) => [
        broker.nodeId, `${broker.host}:${broker.port}`, broker.rack === '' ? '-' : broker.rack, broker.alive ? (broker.shuttingDown ? 'stopping' : 'yes') : 'no',
        broker.controller ? 'yes' : '', broker.leaderCount,
      ])));
    })), 'sluice cluster brokers --json');

  withExamples(cluster.command('elect-leaders')
    .description('move leadership back to each partition\'s preferred (first) replica, or (--unclean) let an out-of-sync replica lead an offline partition')
    .option('--preferred', 'elect the preferred replica where it is in sync')
    .option('--unclean', 'elect any live replica of an offline partition; acknowledged records it lacks are lost')
    .option('--topic <name>', 'only this topic (default: every topic)')
    .option('--partition <p>', 'only this partition of --topic', wholeNumber(0))
    .option('--json', 'print JSON')
    .action((flags: ElectFlags, command: Command) => withAdmin(command, async (admin) => {
      if (flags.preferred === flags.unclean) throw new Error('elect-leaders needs exactly one of --preferred or --unclean');
      if (flags.partition !== undefined && flags.topic === undefined) throw new Error('--partition needs --topic');
      const partitions = flags.topic === undefined ? undefined : [{ topic: flags.topic, ...(flags.partition === undefined ? {} : { partition: flags.partition }) }];
      const results = await admin.electLeaders({ type: flags.preferred ? 'preferred' : 'unclean', ...(partitions === undefined ? {} : { partitions }) });
      const failed = results.filter((result) => result.error !== undefined);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(results.map((result) => ({ topic: result.topic, partition: result.partition, outcome: result.error === undefined ? (result.notNeeded ? 'not-needed' : 'elected') : result.error.code, ...(result.error === undefined ? {} : { error: result.error.detail }) })))}\n`);
      } else {
        process.stdout.write(table(['topic', 'partition', 'outcome'], results.map((result) => [
          result.topic, result.partition, result.error !== undefined ? describeError(result.error) : result.notNeeded ? 'already led by its preferred replica' : 'elected',
        ])));
        const elected = results.filter((result) => result.error === undefined && !result.notNeeded).length;
        process.stdout.write(`${elected} elected, ${results.length - elected - failed.length} not needed, ${failed.length} failed\n`);
      }
      if (failed.length > 0) process.exitCode = 1;
    })), 'sluice cluster elect-leaders --preferred', 'sluice cluster elect-leaders --preferred --topic orders --partition 2');
}
