/**
 * Appends share-state records to a `__consumer_offsets` partition with group commit: every
 * record queued while the event loop turns goes out as one batch (one write, one replication
 * round), and each caller's promise settles when that batch is committed. Batches land in the
 * log in the order they were queued, so replay applies transitions in the order they happened.
 */
import { buildRecordBatch, type RecordInput } from '../../proto/record-batch/record-batch.js';
import { offsetsAppendError } from '../groups/offsets-append-error.js';
import type { OffsetsTopicPartitions } from '../groups/offsets-partitions.js';

/** Records per batch: a flood of transitions goes out as several batches of sane size. */
const recordsPerBatch = 2000;

interface Pending {
  records: RecordInput[];
  done: Promise<void>;
  settle(error?: unknown): void;
}

function pending(): Pending {
  let settle!: Pending['settle'];
  const done = new Promise<void>((resolve, reject) => { settle = (error) => (error === undefined ? resolve() : reject(error)); });
  done.catch(() => {});
  return { records: [], done, settle };
}

export class ShareStateLog {
  readonly #partitions: OffsetsTopicPartitions;
  readonly #queued = new Map<number, Pending>();
  /** Per partition, settles when everything queued so far is committed (or failed). */
  readonly #tails = new Map<number, Promise<void>>();
  /** Bytes appended since start, for the state-bytes-per-ack figure. */
  bytesAppended = 0;

  constructor(partitions: OffsetsTopicPartitions) {
    this.#partitions = partitions;
  }

  /** Queues the records; resolves once they are committed, rejects with the append's error (NOT_COORDINATOR…). */
  append(partition: number, records: RecordInput[]): Promise<void> {
    if (records.length === 0) return this.settled(partition);
    let batch = this.#queued.get(partition);
    if (batch === undefined) {
      batch = pending();
      this.#queued.set(partition, batch);
      setImmediate(() => this.#flush(partition));
    }
    batch.records.push(...records);
    return batch.done;
  }

  /** Settles once everything queued for the partition so far is committed or failed. */
  settled(partition: number): Promise<void> {
    const queued = this.#queued.get(partition);
    if (queued !== undefined) return queued.done.catch(() => {});
    return this.#tails.get(partition) ?? Promise.resolve();
  }

  #flush(partition: number): void {
    const batch = this.#queued.get(partition);
    if (batch === undefined) return;
    this.#queued.delete(partition);
    const appends: Array<Promise<void>> = [];
    try {
      for (let index = 0; index < batch.records.length; index += recordsPerBatch) {
        const bytes = buildRecordBatch(batch.records.slice(index, index + recordsPerBatch));
        this.bytesAppended += bytes.length;
        appends.push(this.#partitions.append(partition, bytes));
      }
    } catch (error) {
      appends.push(Promise.reject(error));
    }
    const all = Promise.all(appends).then(() => batch.settle(), (error: unknown) => batch.settle(offsetsAppendError(error, partition)));
    this.#tails.set(partition, all);
  }
}
