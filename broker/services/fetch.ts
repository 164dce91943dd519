/**
 * The fetch service both listeners call: fetch with long polling. Each partition is read from its log as zero-copy slices of whole
 * batches: up to the high watermark for consumers, up to the log end for a follower replica
 * (`replica_id` set), which only the leader serves. If fewer than `min_bytes` are ready, the
 * request waits (consumers for the high watermark to move, followers for appends), up to
 * `max_wait_ms`, and is answered as soon as enough arrived (or at once when the broker starts
 * stopping or leadership changes). A response carries at most the client's
 * `max_bytes` and the broker's fetch.max.bytes, but its first batch is sent whole even past
 * them, so a consumer can always make progress.
 */
import { OffsetOutOfRangeError, SluiceError } from '../../proto/errors.js';
import { type AbortedTransaction, type FetchPartition, type FetchPartitionResult, type FetchRequest, IsolationLevel } from '../../proto/messages.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { LAST_OFFSET_DELTA_OFFSET, RECORDS_COUNT_OFFSET } from '../../proto/record-batch/layout.js';
import { readInt64 } from '../../proto/record-batch/record-batch.js';
import { limits } from '../limits.js';
import type { Partition } from '../topics/partition.js';
import type { BrokerContext } from '../api/context.js';
import { itemError } from '../api/item-result.js';

/** Records in whole batches laid end to end, from their headers alone. */
function countRecords(slice: Buffer): number {
  let records = 0;
  for (const { position } of eachBatch(slice)) records += slice.readInt32BE(position + RECORDS_COUNT_OFFSET);
  return records;
}

/** The offset after the last batch of a read (headers only; the slices hold whole batches). */
function endOfRead(slices: Buffer[]): number {
  const last = slices.at(-1)!;
  let end = -1;
  for (const { position } of eachBatch(last)) end = readInt64(last, position) + last.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) + 1;
  return end;
}

/**
 * read_committed: the aborted transactions overlapping what was read, from the log's .txnindex
 * files, for the consumer to drop their batches (Kafka's fetch does the same).
 */
function abortedIn(partition: Partition, fetchOffset: number, slices: Buffer[]): AbortedTransaction[] {
  if (slices.length === 0) return [];
  return partition.log.abortedTransactions(fetchOffset, endOfRead(slices)).map((entry) => ({ producerId: entry.producerId, firstOffset: entry.firstOffset }));
}

const partitionBytesDefault = 1024 * 1024;
const responseBytesDefault = 50 * 1024 * 1024;

/**
 * One partition's answer: every field but the records, and the records as zero-copy slices of
 * the mapped segments (whole batches), `bytes` long in all. Listeners write the slices as they are.
 */
export interface FetchPartitionOutput {
  result: Omit<FetchPartitionResult, 'records'>;
  slices: Buffer[];
  bytes: number;
}

export interface FetchTopicOutput {
  name: string;
  partitions: FetchPartitionOutput[];
}

type PartitionRead = FetchPartitionOutput;

/**
 * A follower's fetch on the leader (§F): reads up to the log end, or answers the epoch where
 * the follower's log diverged; then records the follower's progress (which may move the high
 * watermark and propose an ISR expansion).
 */
function readForFollower(partition: Partition, wanted: FetchPartition, replicaId: number, replicaEpoch: number, limit: number, output: PartitionRead): void {
  partition.checkLeader(wanted.currentLeaderEpoch);
  if (!partition.replicas.includes(replicaId)) {
    const code = wanted.currentLeaderEpoch !== null && wanted.currentLeaderEpoch !== undefined && wanted.currentLeaderEpoch >= 0
      ? 'SLUICE_ERR_UNKNOWN_LEADER_EPOCH' : 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER';
    throw new SluiceError(code, `broker ${replicaId} is not a replica of ${partition.topic}-${partition.index} (replicas ${partition.replicas.join(',')})`);
  }
  const { log } = partition;
  const logEndOffset = log.logEndOffset;
  output.result.highWatermark = partition.highWatermark;
  output.result.lastStableOffset = partition.lastStableOffset;
  output.result.logStartOffset = log.logStartOffset;
  const lastFetchedEpoch = wanted.lastFetchedEpoch ?? -1;
  if (lastFetchedEpoch >= 0) {
    const end = log.endOffsetForEpoch(lastFetchedEpoch);
    if (end.epoch < 0 || wanted.fetchOffset < log.logStartOffset) {
      throw new OffsetOutOfRangeError(wanted.fetchOffset, log.logStartOffset, logEndOffset);
    }
    if (end.epoch < lastFetchedEpoch || end.endOffset < wanted.fetchOffset) {
      output.result.divergingEpoch = end;
      return;
    }
  }
  const read = log.read(wanted.fetchOffset, limit);
  output.slices = read.slices;
  output.bytes = read.bytes;
  const recorded = partition.recordFollowerFetch(replicaId, {
    fetchOffset: wanted.fetchOffset, logStartOffset: wanted.logStartOffset ?? -1, brokerEpoch: replicaEpoch, leaderLogEndOffset: logEndOffset,
  });
  if (!recorded) {
    output.slices = [];
    output.bytes = 0;
    throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `fetch from broker ${replicaId} for ${partition.topic}-${partition.index} carries a stale broker epoch ${replicaEpoch}`);
  }
  // The high watermark may have moved with this very fetch.
  output.result.highWatermark = partition.highWatermark;
  output.result.lastStableOffset = partition.lastStableOffset;
}

/** `answerNow`: a partition failed or has a diverging epoch to report, so the request does not wait. */
function readAll(body: FetchRequest, context: BrokerContext): { topics: FetchTopicOutput[]; bytes: number; answerNow: boolean } {
  let remaining = Math.min(body.maxBytes > 0 ? body.maxBytes : responseBytesDefault, context.settings.fetchBytesMax);
  let bytes = 0;
  let answerNow = false;
  const replicaId = body.replicaId ?? -1;
  const readCommitted = body.isolationLevel === IsolationLevel.READ_COMMITTED;
  const topics = body.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((wanted) => {
      const output: PartitionRead = {
        result: { partition: wanted.partition, errorCode: 0, errorMessage: '', highWatermark: -1, logStartOffset: -1, lastStableOffset: -1 },
        slices: [] as Buffer[],
        bytes: 0,
      };
      let partition: Partition | undefined;
      try {
        partition = context.topics.partition(topic.name, wanted.partition);
        const limit = Math.min(wanted.maxBytes > 0 ? wanted.maxBytes : partitionBytesDefault, Math.max(remaining, 1));
        if (replicaId >= 0) {
          readForFollower(partition, wanted, replicaId, body.replicaEpoch ?? -1, limit, output);
          if (output.result.divergingEpoch !== undefined) answerNow = true;
        } else {
          partition.checkLeader(wanted.currentLeaderEpoch);
          const { log } = partition;
          // Consumers read only what every in-sync replica holds (§F).
          const highWatermark = partition.highWatermark;
          const lastStableOffset = partition.lastStableOffset;
          output.result.highWatermark = highWatermark;
          output.result.lastStableOffset = lastStableOffset;
          output.result.logStartOffset = log.logStartOffset;
          // read_committed stops at the last stable offset: nothing of an open transaction.
          const bound = readCommitted ? lastStableOffset : highWatermark;
          if ((remaining > 0 || bytes === 0) && wanted.fetchOffset !== bound) {
            const read = log.read(wanted.fetchOffset, limit, bound);
            output.slices = read.slices;
            output.bytes = read.bytes;
            if (readCommitted) output.result.abortedTransactions = abortedIn(partition, wanted.fetchOffset, read.slices);
          }
        }
        remaining -= output.bytes;
        bytes += output.bytes;
      } catch (error) {
        Object.assign(output.result, itemError(context, { api: 'Fetch', topic: topic.name, partition: wanted.partition }, error));
        if (partition !== undefined && SluiceError.is(error) && leaderErrors.has(error.code)) output.result.currentLeader = partition.currentLeader;
        answerNow = true;
      }
      return output;
    }),
  }));
  return { topics, bytes, answerNow };
}

const leaderErrors = new Set(['SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', 'SLUICE_ERR_FENCED_LEADER_EPOCH', 'SLUICE_ERR_UNKNOWN_LEADER_EPOCH']);

/**
 * Resolves when `minBytes` more bytes are ready for the partitions, `waitMs` passed, or the
 * broker stops. Followers wait for appends (a new log end); consumers for the high watermark
 * to move (§L), read_committed ones for the last stable offset (a high-watermark move or a
 * marker; either wakes the high-watermark listeners, and only a moved LSO counts). A change of
 * leadership wakes all.
 */
function waitForData(body: FetchRequest, context: BrokerContext, needed: number, waitMs: number): Promise<void> {
  const follower = (body.replicaId ?? -1) >= 0;
  const readCommitted = body.isolationLevel === IsolationLevel.READ_COMMITTED;
  return new Promise((resolve) => {
    // Everything that can wake this wait is undone in `done`, so a finished wait is garbage.
    const unsubscribes: Array<() => void> = [];
    let arrived = 0;
    const done = () => {
      clearTimeout(timer);
      for (const unsubscribe of unsubscribes) unsubscribe();
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    unsubscribes.push(context.stopping.onStop(done));
    const listener = (bytes: number) => {
      arrived += bytes;
      if (arrived >= needed) done();
    };
    for (const topic of body.topics) {
      for (const wanted of topic.partitions) {
        const partition = context.topics.find(topic.name)?.partitionAt(wanted.partition);
        if (partition === undefined) continue;
        if (follower) unsubscribes.push(partition.onAppend(listener));
        else if (readCommitted) unsubscribes.push(partition.onHighWatermark(stableListener(partition, listener)));
        else unsubscribes.push(partition.onHighWatermark(listener));
      }
    }
  });
}

/** Passes a wake-up on only when the partition's last stable offset moved, or it stopped leading here. */
function stableListener(partition: Partition, listener: (bytes: number) => void): (bytes: number) => void {
  let seen = partition.lastStableOffset;
  return (bytes) => {
    const now = partition.closed || partition.role !== 'leader' ? -1 : partition.lastStableOffset;
    // A high-watermark move that left the LSO behind an open transaction: nothing new to read.
    if (now === seen) return;
    seen = now;
    listener(bytes);
  };
}

/**
 * Reads every partition asked for; if fewer than `minBytes` are ready (and no partition failed),
 * waits up to `maxWaitMs` for more and reads again. Counts what goes out in the metrics.
 */
export async function fetchRecords(context: BrokerContext, request: FetchRequest): Promise<FetchTopicOutput[]> {
  const waitMs = Math.min(request.maxWaitMs, limits.fetchWaitMsMax);
  let outcome = readAll(request, context);
  if (!outcome.answerNow && outcome.bytes < Math.max(1, request.minBytes) && waitMs > 0) {
    await waitForData(request, context, Math.max(1, request.minBytes) - outcome.bytes, waitMs);
    outcome = readAll(request, context);
  }
  for (const topic of outcome.topics) {
    let bytes = 0;
    let records = 0;
    for (const partition of topic.partitions) {
      bytes += partition.bytes;
      for (const slice of partition.slices) records += countRecords(slice);
    }
    context.metrics.recordsOut(topic.name, records, bytes);
  }
  return outcome.topics;
}
