/**
 * `sluice consume TOPIC --share-group G`: reads as a member of a share group (a queue): the
 * members share every record, each printed record is acknowledged (ACCEPT) once printed, and
 * with --reject-pattern a record whose value matches is rejected instead (dead-lettered as
 * "rejected"), for trying delivery limits and dead letters by hand. Without --follow it stops
 * once no record has come for --idle-ms, or after --max-messages; on the way out it waits for
 * the coordinator to answer every acknowledgement and says on stderr how many were refused.
 */
import type { Sluice } from '../client/sluice.js';
import type { ShareRecord } from '../client/share-consumer.js';

export interface ShareConsumeFlags {
  maxMessages?: number;
  follow?: boolean;
  printKey?: boolean;
  printOffset?: boolean;
  rejectPattern?: string;
  idleMs: number;
}

export async function consumeShared(sluice: Sluice, topic: string, group: string, flags: ShareConsumeFlags, signal: AbortSignal): Promise<void> {
  let reject: RegExp | undefined;
  try {
    reject = flags.rejectPattern === undefined ? undefined : new RegExp(flags.rejectPattern);
  } catch (error) {
    throw new Error(`--reject-pattern is not a regular expression: ${(error as Error).message}`);
  }
  const consumer = sluice.consumer({ groupId: group, share: true });
  consumer.subscribe([topic]);
  const maxMessages = flags.maxMessages ?? Infinity;
  const outcomes: Array<Promise<void>> = [];
  let printed = 0;
  let lastRecordAt = Date.now();
  const line = (record: ShareRecord) => (flags.printOffset ? `${record.partition}:${record.offset}\t` : '') + (flags.printKey ? `${record.key?.toString() ?? ''}\t` : '') + `${record.value?.toString() ?? ''}\n`;
  try {
    while (printed < maxMessages && !signal.aborted && (flags.follow || Date.now() - lastRecordAt < flags.idleMs)) {
      const records = await consumer.poll({ timeoutMs: 200, maxRecords: Math.min(500, maxMessages - printed), signal });
      if (records.length === 0) continue;
      lastRecordAt = Date.now();
      const text = records.map(line).join('');
      if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      // Printed means processed: acknowledged (or rejected) only once it is out.
      for (const record of records) outcomes.push(reject?.test(record.value?.toString() ?? '') ? record.reject(`matched --reject-pattern ${flags.rejectPattern}`) : record.ack());
      printed += records.length;
    }
  } finally {
    await consumer.close();
  }
  const refused = (await Promise.allSettled(outcomes)).filter((outcome) => outcome.status === 'rejected').length;
  if (refused > 0) process.stderr.write(`sluice: the coordinator refused ${refused} of ${outcomes.length} acknowledgements (their locks had expired); those records will be delivered again\n`);
}
