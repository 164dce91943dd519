/** `sluice groups list|describe|reset-offsets|alter`. */
import type { Command } from 'commander';
import { SluiceError } from '../proto/errors.js';
import type { ResetTarget } from '../client/admin.js';
import { withAdmin } from './connect.js';
import { parseTime } from './parse-time.js';
import { withBootstrap, withExamples } from './options.js';
import { table } from './table.js';

interface ResetFlags {
  topic?: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: string;
  toTime?: string;
}

/** KEY=VALUE flags (repeatable), collected by commander. */
const collect = (value: string, previous: string[]) => [...previous, value];

function parseConfigs(entries: string[], removed: string[]): Record<string, string | null> {
  const configs: Record<string, string | null> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new Error(`--config takes KEY=VALUE, got "${entry}"`);
    configs[entry.slice(0, at)] = entry.slice(at + 1);
  }
  for (const key of removed) configs[key] = null;
  if (Object.keys(configs).length === 0) throw new Error('alter needs at least one --config KEY=VALUE or --delete-config KEY');
  return configs;
}

function resetTarget(flags: ResetFlags): ResetTarget {
  const chosen = [flags.toEarliest, flags.toLatest, flags.toOffset !== undefined, flags.toTime !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new Error('reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset N, --to-time T');
  if (flags.toEarliest) return 'earliest';
  if (flags.toLatest) return 'latest';
  if (flags.toOffset !== undefined) {
    if (!/^\d+$/.test(flags.toOffset)) throw new Error(`--to-offset takes a number, got "${flags.toOffset}"`);
    return { offset: Number(flags.toOffset) };
  }
  return { timestamp: parseTime(flags.toTime!, '--to-time') };
}

export function groupsCommand(program: Command): void {
  const groups = withBootstrap(program.command('groups').description('consumer groups: list, describe (members, lag and configs), reset-offsets, alter (configs)'));
  withExamples(groups, 'sluice groups describe billing');

  withExamples(groups.command('list').description('every group with its state and member count')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const listings = await admin.listGroups();
      if (options.json) process.stdout.write(`${JSON.stringify(listings)}\n`);
      else for (const listing of listings) process.stdout.write(`${listing.groupId}\t${listing.state}\t${listing.members} members${listing.type === 'share' ? '\tshare' : ''}\n`);
    })), 'sluice groups list');

  withExamples(groups.command('describe').argument('<group>', 'group id')
    .description('a group\'s state and assignor, each member (Kafka clients\' too) with its topics and partitions, committed offsets with lag, and the group\'s configs')
    .option('--json', 'print JSON')
    .action((group: string, options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const description = await admin.describeGroup(group);
      // A broker that predates group configs has none to show.
      const configs = await admin.describeGroupConfigs(group).catch((error: unknown) => {
        if (SluiceError.is(error) && error.code === 'SLUICE_ERR_UNKNOWN_API') return [];
        throw error;
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...description, configs })}\n`);
        return;
      }
      const assignor = description.protocolName === '' ? '' : `, assignor ${description.protocolName}`;
      process.stdout.write(`group ${group}: ${description.state}, generation ${description.generationId}, ${description.members} members${assignor}\n`);
      for (const member of description.memberDetails) {
        const who = `  member ${member.memberId}${member.groupInstanceId === '' ? '' : ` (instance ${member.groupInstanceId})`}, client ${member.clientId || '(none)'}`;
        if (!member.readable) {
          process.stdout.write(`${who}: subscription and assignment are not Kafka's ConsumerProtocol\n`);
          continue;
        }
        const owned = member.partitions.map((entry) => `${entry.topic}/${entry.partition}`).join(' ') || '(none)';
        process.stdout.write(`${who}: topics ${member.topics.join(' ') || '(none)'}; partitions ${owned}\n`);
      }
      process.stdout.write('topic                 partition  committed   log-end       lag\n');
      for (const partition of description.partitions) {
        process.stdout.write(`${partition.topic.padEnd(20)}  ${String(partition.partition).padStart(9)}  ${String(partition.committedOffset).padStart(9)}  ${String(partition.logEndOffset).padStart(8)}  ${String(partition.lag).padStart(8)}\n`);
      }
      if (configs.length > 0) process.stdout.write(`configs:\n${table(['name', 'value', 'source'], configs.map((entry) => [entry.name, entry.value === '' ? '""' : entry.value, entry.source]))}`);
    })), 'sluice groups describe billing --json');

  withExamples(groups.command('alter').argument('<group>', 'group id')
    .description('set a group\'s configs (share groups: share.delivery.limit, share.retry.backoff.ms, share.dlq.topic, share.record.lock.duration.ms, '
      + 'share.max.retry.delay.ms, share.partition.max.window, share.member.max.in.flight, share.auto.offset.reset); the coordinator checks each value')
    .option('--config <key=value>', 'set a config (repeatable)', collect, [])
    .option('--delete-config <key>', 'put a config back to its default (repeatable)', collect, [])
    .option('--validate-only', 'check the values without changing anything')
    .action((group: string, flags: { config: string[]; deleteConfig: string[]; validateOnly?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const configs = parseConfigs(flags.config, flags.deleteConfig);
      await admin.alterGroupConfigs(group, configs, { validateOnly: flags.validateOnly ?? false });
      const verb = flags.validateOnly ? 'valid' : 'set';
      for (const [key, value] of Object.entries(configs)) process.stdout.write(value === null ? `${key}: back to default\n` : `${key}=${value}: ${verb}\n`);
    })),
  'sluice groups alter workers --config share.delivery.limit=3 --config share.dlq.topic=jobs-dlq --config share.retry.backoff.ms=1000,5000,30000',
  'sluice groups alter workers --delete-config share.retry.backoff.ms');

  withExamples(groups.command('reset-offsets').argument('<group>', 'group id')
    .description('move a group\'s committed offsets for every partition of a topic (the group must have no live members)')
    .option('--topic <topic>', 'the topic whose offsets move (required)')
    .option('--to-earliest', 'to the log start')
    .option('--to-latest', 'to the log end')
    .option('--to-offset <n>', 'to an offset (clamped to each partition\'s range)')
    .option('--to-time <time>', 'to the first offset at or after a time: ISO 8601 or epoch ms')
    .action((group: string, flags: ResetFlags, command: Command) => withAdmin(command, async (admin) => {
      if (flags.topic === undefined) throw new Error('reset-offsets needs --topic T');
      const target = resetTarget(flags);
      const description = await admin.describeGroup(group);
      if (description.members > 0) throw new Error(`group ${group} has ${description.members} live members; stop them before resetting offsets`);
      for (const entry of await admin.resetOffsets(group, flags.topic, target)) process.stdout.write(`${flags.topic}/${entry.partition} -> ${entry.offset}\n`);
    })), 'sluice groups reset-offsets billing --topic orders --to-time 2026-11-24T10:00:00Z');
}
