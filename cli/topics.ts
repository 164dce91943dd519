/** `sluice topics create|list|describe|delete`. */
import type { Command } from 'commander';
import { withAdmin } from './connect.js';
import { wholeNumber, withBootstrap, withExamples } from './options.js';
import { nodeList, table } from './table.js';

function parseConfigs(entries: string[]): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const entry of entries) {
    const separator = entry.indexOf('=');
    if (separator <= 0) throw new Error(`--config takes key=value, got "${entry}"`);
    configs[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  return configs;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function topicsCommand(program: Command): void {
  const topics = withBootstrap(program.command('topics').description('create, list, describe or delete topics'));
  withExamples(topics, 'sluice topics create orders --partitions 4 --config retention.ms=86400000', 'sluice topics describe orders');

  withExamples(topics.command('create').argument('<name>', 'topic name')
    .description('create a topic')
    .option('--partitions <n>', 'number of partitions', wholeNumber(1), 1)
    .option('--replication-factor <r>', 'copies of each partition (default: the broker\'s default.replication.factor)', wholeNumber(1))
    .option('--config <key=value>', 'a topic config (repeatable): retention.ms, retention.bytes, segment.bytes, segment.ms, cleanup.policy, min.insync.replicas, ...', collect, [])
    .action((name: string, options: { partitions: number; replicationFactor?: number; config: string[] }, command: Command) => withAdmin(command, async (admin) => {
      await admin.createTopic(name, {
        partitions: options.partitions, configs: parseConfigs(options.config),
        ...(options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor }),
      });
      const factor = options.replicationFactor === undefined ? '' : `, replication factor ${options.replicationFactor}`;
      process.stdout.write(`created topic ${name} with ${options.partitions} partition${options.partitions === 1 ? '' : 's'}${factor}\n`);
    })), 'sluice topics create orders --partitions 4 --config cleanup.policy=compact',
  'sluice topics create payments --partitions 6 --replication-factor 3 --config min.insync.replicas=2');

  withExamples(topics.command('list').description('list topic names, one a line')
    .option('--json', 'print a JSON array')
    .action((options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const names = await admin.listTopics();
      process.stdout.write(options.json ? `${JSON.stringify(names)}\n` : names.map((topic) => `${topic}\n`).join(''));
    })), 'sluice topics list --bootstrap 127.0.0.1:9400');

  withExamples(topics.command('describe').argument('<name>', 'topic name')
    .description('partitions of a topic: leader, leader epoch, replicas, in-sync replicas, offline replicas, start and end offsets (and the last stable offset while a transaction is open)')
    .option('--json', 'print JSON')
    .action((name: string, options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const description = await admin.describeTopic(name);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(description)}\n`);
        return;
      }
      process.stdout.write(`topic ${description.name}: ${description.partitions.length} partitions\n`);
      // The last stable offset only while a transaction holds it below the end of some partition.
      const unstable = description.partitions.some((partition) => partition.lastStableOffset >= 0 && partition.lastStableOffset !== partition.logEndOffset);
      const headings = ['partition', 'leader', 'epoch', 'replicas', 'isr', 'offline', 'start-offset', 'end-offset', ...(unstable ? ['stable-offset'] : [])];
      process.stdout.write(table(headings, description.partitions.map((partition) => [
        partition.partition, partition.leader < 0 ? 'none' : partition.leader, partition.leaderEpoch, nodeList(partition.replicas), nodeList(partition.isr),
        nodeList(partition.offlineReplicas), partition.logStartOffset, partition.logEndOffset, ...(unstable ? [partition.lastStableOffset] : []),
      ])));
    })), 'sluice topics describe orders --json');

  withExamples(topics.command('delete').argument('<name>', 'topic name')
    .description('delete a topic and its data')
    .action((name: string, _options: unknown, command: Command) => withAdmin(command, async (admin) => {
      await admin.deleteTopic(name);
      process.stdout.write(`deleted topic ${name}\n`);
    })), 'sluice topics delete orders');
}
