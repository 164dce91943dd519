import { parseArgs } from 'node:util';
import { OffsetOutOfRangeError } from '../proto/errors.js';
import type { SeekTarget } from '../client/consumer.js';
import { Sluice } from '../client/sluice.js';
import { parseTime } from './parse-time.js';

function parseOffset(text: string): SeekTarget {
  if (text === 'earliest' || text === 'latest') return text;
  if (!/^\d+$/.test(text)) throw new Error(`--offset takes earliest, latest or a number, got "${text}"`);
  return Number(text);
}

/**
 * Prints values one per line, in offset order per partition. Without --follow it stops at
 * the end offsets the partitions had when it started; with --follow it keeps tailing. With
 * --group it starts at the group's committed offsets and commits what it printed; with
 * --group and --follow it joins the group, sharing the partitions with the other members.
 */
export async function consumeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bootstrap: { type: 'string', default: '127.0.0.1:9400' },
      partition: { type: 'string' },
      offset: { type: 'string', default: 'earliest' },
      'from-time': { type: 'string' },
      'max-messages': { type: 'string' },
      follow: { type: 'boolean', default: false },
      'print-key': { type: 'boolean', default: false },
      'print-offset': { type: 'boolean', default: false },
      group: { type: 'string' },
    },
  });
  const topic = positionals[0];
  if (topic === undefined) throw new Error('usage: sluice consume TOPIC [--partition P] [--offset earliest|latest|N] [--from-time T] [--max-messages N] [--follow] [--print-key] [--print-offset] [--group G]');
  const explicitStart = values['from-time'] !== undefined || argv.includes('--offset');
  const target: SeekTarget = values['from-time'] === undefined ? parseOffset(values.offset) : { timestamp: parseTime(values['from-time'], '--from-time') };
  const maxMessages = values['max-messages'] === undefined ? Infinity : Number(values['max-messages']);
  const sluice = new Sluice({ bootstrap: values.bootstrap, clientId: 'sluice-cli', connectTimeoutMs: 3000 });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  try {
    const description = await sluice.admin().describeTopic(topic);
    const wanted = values.partition === undefined ? description.partitions : description.partitions.filter((partition) => partition.partition === Number(values.partition));
    if (wanted.length === 0) throw new Error(`topic ${topic} has partitions 0..${description.partitions.length - 1}, not ${values.partition}`);
    if (typeof target === 'number') {
      for (const partition of wanted) {
        if (target < partition.logStartOffset || target > partition.logEndOffset) {
          throw new OffsetOutOfRangeError(target, partition.logStartOffset, partition.logEndOffset);
        }
      }
    }
    const group = values.group;
    const consumer = sluice.consumer(group === undefined ? { autoOffsetReset: 'none' } : { autoOffsetReset: 'none', groupId: group, autoCommit: false });
    // With --group, each partition resumes at the group's committed offset unless a start was given.
    const committed = group === undefined || explicitStart ? new Map<string, number>() : await consumer.committed([topic]);
    const ends = new Map<number, number>();
    const assignment = [];
    for (const partition of wanted) {
      const resume = committed.get(`${topic}\u0000${partition.partition}`);
      const start = resume ?? (typeof target === 'number' ? target : await consumer.offsetFor(topic, partition.partition, target));
      assignment.push({ topic, partition: partition.partition, offset: start });
      if (values.follow || start < partition.logEndOffset) ends.set(partition.partition, values.follow ? Infinity : partition.logEndOffset);
    }
    if (group !== undefined && values.follow && values.partition === undefined && !explicitStart) {
      // A following group consumer joins the group: members share the partitions between them.
      consumer.subscribe([topic]);
    } else {
      consumer.assign(assignment);
    }
    let printed = 0;
    const out: string[] = [];
    const printedUpTo = new Map<number, number>();
    while (printed < maxMessages && (values.follow || ends.size > 0) && !stop.signal.aborted) {
      for (const record of await consumer.poll({ timeoutMs: 500, signal: stop.signal })) {
        const end = ends.get(record.partition);
        if (end === undefined || record.offset >= end) continue;
        if (record.offset + 1 >= end) ends.delete(record.partition);
        const prefix = (values['print-offset'] ? `${record.partition}:${record.offset}\t` : '') + (values['print-key'] ? `${record.key?.toString() ?? ''}\t` : '');
        out.push(`${prefix}${record.value?.toString() ?? ''}\n`);
        printed += 1;
        printedUpTo.set(record.partition, record.offset + 1);
        if (printed >= maxMessages) break;
      }
      if (out.length > 0) {
        const ok = process.stdout.write(out.join(''));
        out.length = 0;
        if (!ok) await new Promise((resolve) => process.stdout.once('drain', resolve));
        // Printed means processed: the group's position moves past it.
        if (group !== undefined) await consumer.commit([...printedUpTo].map(([partition, offset]) => ({ topic, partition, offset })));
      }
    }
  } finally {
    await sluice.close();
  }
}
