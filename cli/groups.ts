import { parseArgs } from 'node:util';
import type { ResetTarget } from '../client/admin.js';
import { Sluice } from '../client/sluice.js';
import { parseTime } from './parse-time.js';

const usage = `usage: sluice groups list | describe GROUP
       sluice groups reset-offsets GROUP --topic T --to-earliest|--to-latest|--to-offset N|--to-time T
       [--bootstrap HOST:PORT]`;

function resetTarget(values: { 'to-earliest'?: boolean; 'to-latest'?: boolean; 'to-offset'?: string; 'to-time'?: string }): ResetTarget {
  const chosen = [values['to-earliest'], values['to-latest'], values['to-offset'] !== undefined, values['to-time'] !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new Error('reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset N, --to-time T');
  if (values['to-earliest']) return 'earliest';
  if (values['to-latest']) return 'latest';
  if (values['to-offset'] !== undefined) {
    if (!/^\d+$/.test(values['to-offset'])) throw new Error(`--to-offset takes a number, got "${values['to-offset']}"`);
    return { offset: Number(values['to-offset']) };
  }
  return { timestamp: parseTime(values['to-time']!, '--to-time') };
}

export async function groupsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bootstrap: { type: 'string', default: '127.0.0.1:9400' },
      topic: { type: 'string' },
      'to-earliest': { type: 'boolean' },
      'to-latest': { type: 'boolean' },
      'to-offset': { type: 'string' },
      'to-time': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, group] = positionals;
  const sluice = new Sluice({ bootstrap: values.bootstrap, clientId: 'sluice-cli', connectTimeoutMs: 3000 });
  const admin = sluice.admin();
  try {
    if (action === 'list') {
      for (const listing of await admin.listGroups()) process.stdout.write(`${listing.groupId}\t${listing.state}\t${listing.members} members\n`);
    } else if (action === 'describe' && group !== undefined) {
      const description = await admin.describeGroup(group);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(description)}\n`);
        return;
      }
      process.stdout.write(`group ${group}: ${description.state}, generation ${description.generationId}, ${description.members} members\n`);
      for (const member of description.memberDetails) {
        const owned = member.partitions.map((entry) => `${entry.topic}/${entry.partition}`).join(' ') || '(none)';
        process.stdout.write(`  member ${member.memberId}${member.groupInstanceId === '' ? '' : ` (instance ${member.groupInstanceId})`}: ${owned}\n`);
      }
      process.stdout.write('topic                 partition  committed   log-end       lag\n');
      for (const partition of description.partitions) {
        process.stdout.write(`${partition.topic.padEnd(20)}  ${String(partition.partition).padStart(9)}  ${String(partition.committedOffset).padStart(9)}  ${String(partition.logEndOffset).padStart(8)}  ${String(partition.lag).padStart(8)}\n`);
      }
    } else if (action === 'reset-offsets' && group !== undefined) {
      if (values.topic === undefined) throw new Error('reset-offsets needs --topic T');
      const description = await admin.describeGroup(group);
      if (description.members > 0) throw new Error(`group ${group} has ${description.members} live members; stop them before resetting offsets`);
      for (const entry of await admin.resetOffsets(group, values.topic, resetTarget(values))) {
        process.stdout.write(`${values.topic}/${entry.partition} -> ${entry.offset}\n`);
      }
    } else {
      throw new Error(usage);
    }
  } finally {
    await sluice.close();
  }
}
