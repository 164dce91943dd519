/** `sluice share describe G`: a share group's members and, per share-partition, its window and records by state. */
import type { Command } from 'commander';
import { withAdmin } from './connect.js';
import { withBootstrap, withExamples } from './options.js';
import { table } from './table.js';

const reasons = ['rejected', 'delivery_limit', 'expired'];

export function shareCommand(program: Command): void {
  const share = withBootstrap(program.command('share').description('share groups (queues on the log): describe'));
  withExamples(share, 'sluice share describe workers');

  withExamples(share.command('describe').argument('<group>', 'share group id')
    .description('per share-partition: the window (start..end), records acquired, available and delayed now, acknowledged and dead-lettered '
      + '(by reason) so far, the age of the oldest lock; then the members with what each holds')
    .option('--json', 'print JSON')
    .action((group: string, options: { json?: boolean }, command: Command) => withAdmin(command, async (admin) => {
      const description = await admin.describeShareGroup(group);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(description)}\n`);
        return;
      }
      process.stdout.write(`share group ${description.groupId}: ${description.state || 'Empty'}, ${description.members.length} members\n`);
      const rows = description.partitions.map((entry) => {
        const others = Object.entries(entry.deadLetteredByReason).filter(([reason]) => !reasons.includes(reason));
        const byReason = [...reasons.map((reason) => `${reason} ${entry.deadLetteredByReason[reason] ?? 0}`), ...others.map(([reason, count]) => `${reason} ${count}`)].join(', ');
        return [
          entry.topic, entry.partition, entry.startOffset, entry.endOffset, entry.acquired, entry.available, entry.delayed, entry.acknowledged,
          `${entry.deadLettered} (${byReason})`, entry.oldestLockAgeMs > 0 ? `${entry.oldestLockAgeMs} ms` : '-',
        ];
      });
      if (rows.length > 0) process.stdout.write(table(['topic', 'partition', 'start', 'end', 'acquired', 'available', 'delayed', 'acknowledged', 'dead-lettered', 'oldest lock'], rows));
      for (const member of description.members) {
        process.stdout.write(`  member ${member.memberId}, client ${member.clientId || '(none)'}${member.host === '' ? '' : ` at ${member.host}`}: topics ${member.topics.join(' ') || '(none)'}; holds ${member.inFlight}\n`);
      }
    })), 'sluice share describe workers --json');
}
