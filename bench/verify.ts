/**
 * `sluice bench produce --verify`: did the cluster keep what it acknowledged?
 *
 * Every record a verifying producer sends carries two headers: `sluice.verify` =
 * "PRODUCER-ID:SEQ" (the run id and the producer's index, then a sequence number unique within
 * that producer) and `sluice.partition` = the partition it was sent to. The producer keeps
 * which sequence numbers were acknowledged, and on which partition (an AckLog, compact as
 * runs of consecutive sequence numbers). Afterwards the topic is read back from every
 * partition's leader up to its end, and per partition the check counts:
 *
 * - missing: acknowledged, but not in the partition (the failure this exists to catch);
 * - duplicated: extra copies of a record (a retried batch whose first attempt was written);
 * - out of order: a record whose sequence number is below one its producer's earlier record
 *   in that partition already had (first copies only, so duplicates are not counted twice);
 * - misplaced: a record found in another partition than the one it was sent to.
 *
 * Records of other runs or without the header are ignored, so a topic can be reused.
 */
import { Sluice } from '../client/sluice.js';
import type { DecodedRecord } from '../proto/record-batch/record-batch.js';

export const idHeader = 'sluice.verify';
export const partitionHeader = 'sluice.partition';

/** The records one producer had acknowledged: [partition, first sequence, last sequence] runs. */
export interface ProducerAcks {
  producerId: string;
  ranges: Array<[partition: number, first: number, last: number]>;
}

export interface AckLog {
  runId: string;
  topic: string;
  producers: ProducerAcks[];
}

export interface PartitionVerdict {
  partition: number;
  acknowledged: number;
  /** Records of this run found in the partition, copies included. */
  found: number;
  missing: number;
  duplicated: number;
  outOfOrder: number;
  misplaced: number;
  /** Up to 10 ids of missing records, to look for. */
  missingSample: string[];
}

export interface VerifyReport {
  topic: string;
  runId: string;
  partitions: PartitionVerdict[];
  totals: Omit<PartitionVerdict, 'partition' | 'missingSample'>;
  /** False when an acknowledged record is missing. */
  ok: boolean;
}

/** Builds a producer's AckLog entry as it goes: one sequence number acknowledged on one partition at a time. */
export class AckRecorder {
  readonly producerId: string;
  #partitionOf = new Int32Array(1024).fill(-1);
  #highest = -1;

  constructor(producerId: string) {
    this.producerId = producerId;
  }

  acknowledged(sequence: number, partition: number): void {
    if (sequence >= this.#partitionOf.length) {
      const grown = new Int32Array(Math.max(sequence + 1, this.#partitionOf.length * 2)).fill(-1);
      grown.set(this.#partitionOf);
      this.#partitionOf = grown;
    }
    this.#partitionOf[sequence] = partition;
    this.#highest = Math.max(this.#highest, sequence);
  }

  toJSON(): ProducerAcks {
    const ranges: ProducerAcks['ranges'] = [];
    let current: [number, number, number] | undefined;
    for (let sequence = 0; sequence <= this.#highest; sequence += 1) {
      const partition = this.#partitionOf[sequence]!;
      if (current !== undefined && partition === current[0] && sequence === current[2] + 1) {
        current[2] = sequence;
        continue;
      }
      if (current !== undefined) ranges.push(current);
      current = partition < 0 ? undefined : [partition, sequence, sequence];
    }
    if (current !== undefined) ranges.push(current);
    return { producerId: this.producerId, ranges };
  }
}

export function verifyHeaders(producerId: string, sequence: number, partition: number): Record<string, string> {
  return { [idHeader]: `${producerId}:${sequence}`, [partitionHeader]: String(partition) };
}

function header(record: DecodedRecord, key: string): string | undefined {
  const found = record.headers.find((entry) => entry.key === key);
  return found?.value?.toString();
}

/** Checks what each partition holds (records in offset order) against what was acknowledged. */
export function checkRecords(acks: AckLog, partitions: ReadonlyMap<number, readonly DecodedRecord[]>): VerifyReport {
  const producers = new Map(acks.producers.map((producer) => [producer.producerId, producer]));
  const verdicts = new Map<number, PartitionVerdict>();
  const verdict = (partition: number): PartitionVerdict => {
    let entry = verdicts.get(partition);
    if (entry === undefined) verdicts.set(partition, entry = { partition, acknowledged: 0, found: 0, missing: 0, duplicated: 0, outOfOrder: 0, misplaced: 0, missingSample: [] });
    return entry;
  };
  for (const partition of partitions.keys()) verdict(partition);
  // Copies of each (producer, sequence) found per partition.
  const seen = new Map<number, Map<string, Map<number, number>>>();
  for (const [partition, records] of partitions) {
    const copies = new Map<string, Map<number, number>>();
    seen.set(partition, copies);
    const highest = new Map<string, number>();
    const entry = verdict(partition);
    for (const record of records) {
      const id = header(record, idHeader);
      if (id === undefined) continue;
      const separator = id.lastIndexOf(':');
      const producerId = id.slice(0, separator);
      if (!producers.has(producerId) && !producerId.startsWith(`${acks.runId}-`)) continue;
      const sequence = Number(id.slice(separator + 1));
      entry.found += 1;
      if (header(record, partitionHeader) !== String(partition)) entry.misplaced += 1;
      let counts = copies.get(producerId);
      if (counts === undefined) copies.set(producerId, counts = new Map());
      const count = counts.get(sequence) ?? 0;
      counts.set(sequence, count + 1);
      if (count > 0) {
        entry.duplicated += 1;
        continue;
      }
      const before = highest.get(producerId) ?? -1;
      if (sequence < before) entry.outOfOrder += 1;
      else highest.set(producerId, sequence);
    }
  }
  for (const producer of acks.producers) {
    for (const [partition, first, last] of producer.ranges) {
      const entry = verdict(partition);
      const counts = seen.get(partition)?.get(producer.producerId);
      entry.acknowledged += last - first + 1;
      for (let sequence = first; sequence <= last; sequence += 1) {
        if ((counts?.get(sequence) ?? 0) > 0) continue;
        entry.missing += 1;
        if (entry.missingSample.length < 10) entry.missingSample.push(`${producer.producerId}:${sequence}`);
      }
    }
  }
  const list = [...verdicts.values()].sort((a, b) => a.partition - b.partition);
  const totals = { acknowledged: 0, found: 0, missing: 0, duplicated: 0, outOfOrder: 0, misplaced: 0 };
  for (const entry of list) for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += entry[key];
  return { topic: acks.topic, runId: acks.runId, partitions: list, totals, ok: totals.missing === 0 };
}

/**
 * Reads every partition of the topic from its leader, from the start up to the end offset it
 * has when the read starts (the high watermark: what the cluster acknowledged), and checks it.
 */
export async function verifyTopic(bootstrap: string | string[], acks: AckLog, options: { timeoutMs?: number } = {}): Promise<VerifyReport> {
  const sluice = new Sluice({ bootstrap, clientId: 'sluice-bench-verify', connectTimeoutMs: 5000 });
  try {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    // Right after brokers were killed a partition may have no leader yet: wait for one.
    let description = await sluice.admin().describeTopic(acks.topic);
    for (;;) {
      const leaderless = description.partitions.filter((partition) => partition.logEndOffset < 0).map((partition) => partition.partition);
      if (leaderless.length === 0) break;
      if (Date.now() > deadline) throw new Error(`cannot verify ${acks.topic}: partitions ${leaderless.join(', ')} have had no leader to read from for ${timeoutMs} ms; retry once they do`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      description = await sluice.admin().describeTopic(acks.topic);
    }
    const ends = new Map(description.partitions.map((partition) => [partition.partition, partition.logEndOffset]));
    const records = new Map<number, DecodedRecord[]>(description.partitions.map((partition) => [partition.partition, []]));
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 100 });
    consumer.assign(description.partitions.map((partition) => ({ topic: acks.topic, partition: partition.partition, offset: partition.logStartOffset })));
    const done = () => [...ends].every(([partition, end]) => (consumer.position(acks.topic, partition) ?? 0) >= end);
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`reading ${acks.topic} back did not reach its end within ${timeoutMs} ms`);
      for (const record of await consumer.poll({ timeoutMs: 200 })) {
        if (record.offset < ends.get(record.partition)!) records.get(record.partition)!.push(record);
      }
    }
    return checkRecords(acks, records);
  } finally {
    await sluice.close();
  }
}

/** The report as a person reads it: one line per partition, then the verdict. */
export function formatReport(report: VerifyReport): string {
  const rows = report.partitions.map((entry) => [entry.partition, entry.acknowledged, entry.found, entry.missing, entry.duplicated, entry.outOfOrder, entry.misplaced]);
  const header = ['partition', 'acked', 'found', 'missing', 'duplicated', 'out-of-order', 'misplaced'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells: Array<string | number>) => cells.map((cell, column) => String(cell).padStart(widths[column]!)).join('  ');
  const { totals } = report;
  const lines = [`verify ${report.topic} (run ${report.runId})`, line(header), ...rows.map(line)];
  lines.push(`total: ${totals.acknowledged} acknowledged, ${totals.missing} missing, ${totals.duplicated} duplicated, ${totals.outOfOrder} out of order, ${totals.misplaced} misplaced`);
  for (const entry of report.partitions) if (entry.missing > 0) lines.push(`partition ${entry.partition} lacks ${entry.missingSample.join(', ')}${entry.missing > entry.missingSample.length ? ', ...' : ''}`);
  lines.push(report.ok ? 'OK: every acknowledged record is there' : `FAILED: ${totals.missing} acknowledged record${totals.missing === 1 ? ' is' : 's are'} missing`);
  return lines.join('\n');
}
