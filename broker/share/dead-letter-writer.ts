/**
 * Moves DEAD_LETTERING records to the group's DLQ topic, exactly once (behaviour 18): a record
 * becomes DEAD_LETTERING in the share-state log before its DLQ append starts, and DEAD only
 * after the append is committed. After a crash or failover the records still DEAD_LETTERING
 * are first looked for in the DLQ partition's tail (by their x-death-group/-topic/-partition/
 * -offset headers); those found are marked DEAD without a second append.
 *
 * One writer per share-partition at a time, in offset order, so a source partition's dead
 * letters keep their order in the DLQ. A failed append is retried a second later, after the
 * same look at the DLQ tail (its answer may have been lost after it landed).
 */
import type { Logger } from 'pino';
import { decodeRecords, readBatchHeader, type RecordInput } from '../../proto/record-batch/record-batch.js';
import { deadLetterRecord, deathSource } from './dead-letter-record.js';
import type { DeadLetterSink } from './dead-letter-sink.js';
import type { PartitionSource } from '../replication/partition-source.js';
import type { SharePartition } from './share-partition.js';
import { RecordState } from './share-records.js';
import type { ShareGroup } from './share-coordinator.js';

/** Dead letters per DLQ append. */
const batchRecords = 200;
/** How far back the recovery check looks in the DLQ partition. */
const tailRecords = 20_000;
const retryMs = 1000;

export interface DeadLetterWriterOptions {
  source: PartitionSource;
  sink: DeadLetterSink;
  logger: Logger;
  /** Appends the group's pending share-state changes; resolves once committed. */
  persist(groupId: string): Promise<void>;
  /** Whether this share-partition is still the coordinator's (not unloaded or replaced). */
  current(groupId: string, share: SharePartition): boolean;
}

export class DeadLetterWriter {
  readonly #options: DeadLetterWriterOptions;
  readonly #running = new Set<SharePartition>();
  /** Share-partitions loaded with DEAD_LETTERING records: check the DLQ tail before appending. */
  readonly #recovering = new Set<SharePartition>();
  /** REJECT reasons until written (x-death-message); kept in memory only. */
  readonly #reasons = new WeakMap<SharePartition, Map<number, string>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Share-partitions waiting out the pause after a failed run. */
  readonly #retrying = new Set<SharePartition>();
  #closed = false;
  /** Dead letters appended since start, by reason. */
  readonly written = { rejected: 0, delivery_limit: 0, expired: 0 };

  constructor(options: DeadLetterWriterOptions) {
    this.#options = options;
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  note(_group: ShareGroup, share: SharePartition, first: number, last: number, reason: string): void {
    let reasons = this.#reasons.get(share);
    if (reasons === undefined) {
      reasons = new Map();
      this.#reasons.set(share, reasons);
    }
    for (let offset = first; offset <= last; offset += 1) reasons.set(offset, reason);
  }

  /** A loaded share-partition: its DEAD_LETTERING records may already be in the DLQ. */
  recovered(group: ShareGroup, share: SharePartition): void {
    if (share.deadLettering(1).length === 0) return;
    this.#recovering.add(share);
    this.kick(group, share);
  }

  /** Starts writing the share-partition's DEAD_LETTERING records unless it is being written. */
  kick(group: ShareGroup, share: SharePartition): void {
    if (this.#closed || this.#running.has(share) || this.#retrying.has(share)) return;
    if (group.config.dlqTopic === '') {
      this.#drop(group, share);
      return;
    }
    this.#running.add(share);
    void this.#run(group, share).catch((error: unknown) => {
      // The append may have landed though its answer was lost: look before writing again.
      this.#recovering.add(share);
      this.#options.logger.warn({ err: error, group: group.id, topic: share.topic, partition: share.partition }, 'dead-lettering failed; retrying');
      this.#retrying.add(share);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#retrying.delete(share);
        if (this.#options.current(group.id, share)) this.kick(group, share);
      }, retryMs);
      timer.unref();
      this.#timers.add(timer);
    }).finally(() => {
      this.#running.delete(share);
      // A kick that came while this run was finishing found it running: look once more.
      if (!this.#closed && this.#options.current(group.id, share) && share.deadLettering(1).length > 0 && !this.#retrying.has(share)) this.kick(group, share);
    });
  }

  /** The group's DLQ topic was unset while records waited for it: they are dropped and counted, as without a DLQ. */
  #drop(group: ShareGroup, share: SharePartition): void {
    const offsets = share.deadLettering(Number.MAX_SAFE_INTEGER);
    if (offsets.length === 0) return;
    for (const offset of offsets) share.deadLettered(offset, true);
    this.#recovering.delete(share);
    this.#options.persist(group.id).catch((error: unknown) => this.#options.logger.warn({ err: error, group: group.id }, 'appending share state failed'));
  }

  async #run(group: ShareGroup, share: SharePartition): Promise<void> {
    // The DEAD_LETTERING transitions are committed before any append.
    await this.#options.persist(group.id);
    const dlq = group.config.dlqTopic;
    if (this.#recovering.has(share)) {
      const pending = share.deadLettering(Number.MAX_SAFE_INTEGER).length;
      const tail = await this.#options.sink.tail(dlq, share.partition, tailRecords);
      let found = 0;
      for (const record of tail) {
        const source = deathSource(record);
        if (source === undefined || source.group !== group.id || source.topic !== share.topic || source.partition !== share.partition) continue;
        if (share.state(source.offset) === RecordState.deadLettering) found += 1;
        share.deadLettered(source.offset);
      }
      this.#recovering.delete(share);
      this.#options.logger.info({ group: group.id, topic: share.topic, partition: share.partition, pending, alreadyInDlq: found }, 'resuming dead letters: those already in the DLQ are not written again');
      await this.#options.persist(group.id);
    }
    for (;;) {
      if (this.#closed || !this.#options.current(group.id, share) || group.config.dlqTopic !== dlq) return;
      const offsets = share.deadLettering(batchRecords);
      if (offsets.length === 0) return;
      const wanted = new Set(offsets);
      const records: RecordInput[] = [];
      const found = new Set<number>();
      const now = Date.now();
      const reasons = this.#reasons.get(share);
      for (let from = offsets[0]!; found.size + 0 < wanted.size && from <= offsets.at(-1)!;) {
        const read = await this.#options.source.read(share.topic, share.partition, from, 1024 * 1024);
        if (read.batches.length === 0) break;
        for (const batch of read.batches) {
          const header = readBatchHeader(batch);
          from = header.baseOffset + header.lastOffsetDelta + 1;
          if (header.isControl) continue;
          for (const record of decodeRecords(batch)) {
            if (!wanted.has(record.offset) || found.has(record.offset)) continue;
            found.add(record.offset);
            const reason = share.reasonOf(record.offset);
            const deliveryCount = share.deliveryCount(record.offset);
            records.push(deadLetterRecord(record, {
              reason, deliveryCount, group: group.id, topic: share.topic, partition: share.partition, time: now,
              message: reasons?.get(record.offset) ?? defaultMessage(reason, deliveryCount, group.config.deliveryLimit),
            }));
          }
        }
      }
      if (records.length > 0) await this.#options.sink.append(dlq, share.topic, share.partition, records);
      // Offsets retention removed before they could be written are done too: there is nothing to write.
      for (const offset of offsets) {
        const reason = share.reasonOf(offset);
        share.deadLettered(offset);
        reasons?.delete(offset);
        if (found.has(offset)) this.written[reason] += 1;
      }
      await this.#options.persist(group.id);
    }
  }
}

function defaultMessage(reason: string, deliveryCount: number, limit: number): string {
  if (reason === 'delivery_limit') return `delivery limit ${limit} reached after ${deliveryCount} deliveries`;
  if (reason === 'expired') return 'the record expired (x-expires-at, x-ttl-ms or message.ttl.ms) before it was delivered';
  return 'rejected by the consumer';
}
