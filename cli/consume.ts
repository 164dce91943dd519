/**
 * `sluice consume TOPIC`: prints values one per line, in offset order per partition.
 *
 * Without --group it reads the partitions it is given from --offset/--from-time and stops at
 * the end offsets they had when it started (or keeps tailing with --follow).
 *
 * With --group it joins the group like any member (as `kcat -G` and
 * `kafka-console-consumer --group` do): the members share the partitions, each starts at the
 * group's committed offsets and commits what it printed; without --follow it stops once it has
 * caught up with the end offsets (as at its start) of the partitions it was assigned, or after
 * --max-messages. With --group and --partition, --offset or --from-time it reads the partitions
 * it is given without joining, starting at the committed offset unless a start was given,
 * and still commits what it printed (the broker accepts that only while the group has no
 * live members).
 *
 * --isolation-level read_committed prints only committed transactions' records (and waits at an
 * open transaction until it is decided); transaction markers are never printed.
 */
import { type Command, Option } from 'commander';
import { OffsetOutOfRangeError, SluiceError } from '../proto/errors.js';
import type { Consumer, ConsumerRecord, SeekTarget } from '../client/consumer.js';
import type { TopicDescription } from '../client/admin.js';
import { connect } from './connect.js';
import { consumeShared } from './consume-share.js';
import { parseTime } from './parse-time.js';
import { wholeNumber, withBootstrap, withExamples } from './options.js';

interface ConsumeFlags {
  partition?: number;
  offset: string;
  fromTime?: string;
  maxMessages?: number;
  follow?: boolean;
  printKey?: boolean;
  printOffset?: boolean;
  group?: string;
  isolationLevel: 'read_committed' | 'read_uncommitted';
  shareGroup?: string;
  rejectPattern?: string;
  idleMs: number;
}

function parseOffset(text: string): SeekTarget {
  if (text === 'earliest' || text === 'latest') return text;
  if (!/^\d+$/.test(text)) throw new Error(`--offset takes earliest, latest or a number, got "${text}"`);
  return Number(text);
}

/** Writes records to stdout and remembers, per partition, the offset after the last one printed. */
class Printer {
  readonly printedUpTo = new Map<number, number>();
  printed = 0;
  readonly #flags: ConsumeFlags;
  readonly #lines: string[] = [];

  constructor(flags: ConsumeFlags) {
    this.#flags = flags;
  }

  add(record: ConsumerRecord): void {
    const prefix = (this.#flags.printOffset ? `${record.partition}:${record.offset}\t` : '') + (this.#flags.printKey ? `${record.key?.toString() ?? ''}\t` : '');
    this.#lines.push(`${prefix}${record.value?.toString() ?? ''}\n`);
    this.printed += 1;
    this.printedUpTo.set(record.partition, record.offset + 1);
  }

  /** Writes what was added; false when there was nothing. */
  async flush(): Promise<boolean> {
    if (this.#lines.length === 0) return false;
    const ok = process.stdout.write(this.#lines.join(''));
    this.#lines.length = 0;
    if (!ok) await new Promise((resolve) => process.stdout.once('drain', resolve));
    return true;
  }
}

const fencedCodes = new Set(['SLUICE_ERR_ILLEGAL_GENERATION', 'SLUICE_ERR_UNKNOWN_MEMBER_ID', 'SLUICE_ERR_REBALANCE_IN_PROGRESS']);

/** A commit that raced a rebalance: the next commit (or the revocation's) covers it. */
const fenced = (error: unknown) => SluiceError.is(error) && (error.retriable || fencedCodes.has(error.code));

export function consumeCommand(program: Command): void {
  const command = withBootstrap(program.command('consume'))
    .argument('<topic>', 'topic to read')
    .description('print records (values, one per line), from an offset, a time, the group\'s committed offsets, or the live end')
    .option('--partition <p>', 'read only this partition', wholeNumber(0))
    .option('--offset <offset>', 'start at earliest, latest or an offset', 'earliest')
    .option('--from-time <time>', 'start at the first record at or after a time: ISO 8601 or epoch ms')
    .option('--max-messages <n>', 'stop after printing N records', wholeNumber(0))
    .option('--follow', 'keep printing new records until interrupted')
    .option('--print-key', 'print KEY<tab> before each value')
    .option('--print-offset', 'print PARTITION:OFFSET<tab> before each value')
    .addOption(new Option('--group <group>', 'consume as a member of this group: share its partitions with the other members, '
      + 'resume at its committed offsets, commit what was printed; with --partition, --offset or --from-time it reads those '
      + 'partitions without joining'))
    .addOption(new Option('--isolation-level <level>', 'read_committed: only records of committed transactions (and non-transactional ones); '
      + 'read_uncommitted: aborted and open transactions\' records too').choices(['read_committed', 'read_uncommitted']).default('read_uncommitted'))
    .option('--share-group <group>', 'consume as a member of this share group (a queue): members share every record, each printed record is acknowledged; '
      + 'a new group starts at the log end unless `sluice groups alter G --config share.auto.offset.reset=earliest`')
    .option('--reject-pattern <regex>', 'with --share-group: reject (dead-letter as "rejected") records whose value matches instead of acknowledging them')
    .option('--idle-ms <ms>', 'with --share-group and without --follow: stop once no record has come for this long', wholeNumber(1), 2000)
    .action((topic: string, flags: ConsumeFlags, self: Command) => consume(topic, flags, self));
  withExamples(command,
    'sluice consume orders --offset 500 --partition 0 --print-offset',
    'sluice consume orders --group billing --max-messages 100   # run two at once to share the partitions',
    'sluice consume jobs --share-group workers --reject-pattern \'^poison\'   # a queue: run several to share the records');
}

async function consume(topic: string, flags: ConsumeFlags, command: Command): Promise<void> {
  const explicitStart = flags.fromTime !== undefined || command.getOptionValueSource('offset') === 'cli';
  const target: SeekTarget = flags.fromTime === undefined ? parseOffset(flags.offset) : { timestamp: parseTime(flags.fromTime, '--from-time') };
  const sluice = await connect(command);
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  if (flags.rejectPattern !== undefined && flags.shareGroup === undefined) throw new Error('--reject-pattern needs --share-group');
  if (flags.shareGroup !== undefined) {
    if (flags.group !== undefined || flags.partition !== undefined || explicitStart) throw new Error('--share-group reads where the share group is; it does not take --group, --partition, --offset or --from-time');
    try {
      await consumeShared(sluice, topic, flags.shareGroup, flags, stop.signal);
    } finally {
      await sluice.close();
    }
    return;
  }
  try {
    const description = await sluice.admin().describeTopic(topic);
    const printer = new Printer(flags);
    if (flags.group !== undefined && flags.partition === undefined && !explicitStart) {
      const consumer = sluice.consumer({ groupId: flags.group, autoOffsetReset: 'earliest', autoCommit: false, isolationLevel: flags.isolationLevel });
      await consumeAsMember(consumer, topic, flags.group, description, flags, printer, stop.signal);
    } else {
      const isolationLevel = flags.isolationLevel;
      await consumeAssigned(sluice.consumer(flags.group === undefined ? { autoOffsetReset: 'none', isolationLevel } : { autoOffsetReset: 'none', groupId: flags.group, autoCommit: false, isolationLevel }),
        topic, description, target, explicitStart, flags, printer, stop.signal);
    }
  } finally {
    await sluice.close();
  }
}

async function consumeAssigned(consumer: Consumer, topic: string, description: TopicDescription, target: SeekTarget, explicitStart: boolean,
  flags: ConsumeFlags, printer: Printer, signal: AbortSignal): Promise<void> {
  const wanted = flags.partition === undefined ? description.partitions : description.partitions.filter((partition) => partition.partition === flags.partition);
  if (wanted.length === 0) throw new Error(`topic ${topic} has partitions 0..${description.partitions.length - 1}, not ${flags.partition}`);
  if (typeof target === 'number') {
    for (const partition of wanted) {
      if (target < partition.logStartOffset || target > partition.logEndOffset) throw new OffsetOutOfRangeError(target, partition.logStartOffset, partition.logEndOffset);
    }
  }
  const maxMessages = flags.maxMessages ?? Infinity;
  // With --group, each partition resumes at the group's committed offset unless a start was given.
  const committed = flags.group === undefined || explicitStart ? new Map<string, number>() : await consumer.committed([topic]);
  const ends = new Map<number, number>();
  const assignment = [];
  for (const partition of wanted) {
    const resume = committed.get(`${topic}\u0000${partition.partition}`);
    const start = resume ?? (typeof target === 'number' ? target : await consumer.offsetFor(topic, partition.partition, target));
    assignment.push({ topic, partition: partition.partition, offset: start });
    if (flags.follow || start < partition.logEndOffset) ends.set(partition.partition, flags.follow ? Infinity : partition.logEndOffset);
  }
  consumer.assign(assignment);
  while (printer.printed < maxMessages && (flags.follow || ends.size > 0) && !signal.aborted) {
    for (const record of await consumer.poll({ timeoutMs: 500, signal })) {
      const end = ends.get(record.partition);
      if (end === undefined || record.offset >= end) continue;
      if (record.offset + 1 >= end) ends.delete(record.partition);
      printer.add(record);
      if (printer.printed >= maxMessages) break;
    }
    // Markers and aborted batches are not handed out, yet move the position: the end may lie past the last record.
    for (const [partition, end] of ends) if ((consumer.position(topic, partition) ?? -1) >= end) ends.delete(partition);
    // Printed means processed: the group's position moves past it.
    if (await printer.flush() && flags.group !== undefined) {
      await consumer.commit([...printer.printedUpTo].map(([partition, offset]) => ({ topic, partition, offset })));
    }
  }
}

/**
 * Joins the group and prints what it is assigned. Without --follow it ends when every
 * partition it holds has been read up to the end offset the partition had when the command
 * started, or at --max-messages; a member given no partition ends at once.
 */
async function consumeAsMember(consumer: Consumer, topic: string, group: string, description: TopicDescription, flags: ConsumeFlags,
  printer: Printer, signal: AbortSignal): Promise<void> {
  const maxMessages = flags.maxMessages ?? Infinity;
  const ends = new Map(description.partitions.map((partition) => [partition.partition, partition.logEndOffset]));
  const held = new Set<number>();
  let assigned = false;
  const commitPrinted = async (partitions: Iterable<number>) => {
    const offsets = [...partitions].flatMap((partition) => {
      const offset = printer.printedUpTo.get(partition);
      return offset === undefined ? [] : [{ topic, partition, offset }];
    });
    await consumer.commit(offsets);
  };
  consumer.subscribe([topic], {
    onAssigned: (assignment, _added, followUp) => {
      held.clear();
      for (const entry of assignment) held.add(entry.partition);
      // A cooperative hand-over round follows at once: the partitions this member gets come in it.
      if (!followUp || held.size > 0) assigned = true;
    },
    onRevoked: async (revoked) => {
      const gone = revoked.map((entry) => entry.partition);
      await commitPrinted(gone).catch(() => {});
      for (const partition of gone) {
        held.delete(partition);
        printer.printedUpTo.delete(partition);
      }
    },
  });
  const caughtUp = () => [...held].every((partition) => (consumer.position(topic, partition) ?? -1) >= (ends.get(partition) ?? 0));
  try {
    while (printer.printed < maxMessages && !signal.aborted) {
      if (!flags.follow && assigned && caughtUp()) {
        if (held.size === 0) process.stderr.write(`sluice: this member of group ${group} was assigned no partition of ${topic} (the other members hold them all); nothing to read\n`);
        break;
      }
      for (const record of await consumer.poll({ timeoutMs: 500, signal })) {
        printer.add(record);
        if (printer.printed >= maxMessages) break;
      }
      if (await printer.flush()) await commitPrinted(held).catch((error: unknown) => { if (!fenced(error)) throw error; });
    }
    // The last commit may race a rebalance: the member rejoins in the background, then it goes through.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await commitPrinted(held);
        break;
      } catch (error) {
        if (!fenced(error) || attempt === 25) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await consumer.close();
  }
}
