/**
 * Committed offsets of consumer groups, stored as records in the compacted internal topic
 * `__consumer_offsets` (key: group, topic, partition; value: offset, metadata, commit time; a
 * null value deletes), so they survive restarts like any other data, and read back into
 * memory when the broker starts. Keys and values are small JSON documents: compaction keeps
 * the last record per key byte for byte, and a person can read them with `sluice consume`.
 */
import type { Logger } from 'pino';
import { batchLastOffset, buildRecordBatch, decodeRecords, type RecordInput } from '../../proto/record-batch/record-batch.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import type { TopicStore } from '../topics/topic-store.js';

export const offsetsTopic = '__consumer_offsets';

/** Without compaction a commit would expire with the log's retention, however recent it is. */
const offsetsTopicConfigs = { 'cleanup.policy': 'compact', 'segment.bytes': String(64 * 1024 * 1024) };

/**
 * Before the logs open: an older broker let CreateTopics or auto-create make
 * `__consumer_offsets` with the user defaults (cleanup.policy=delete), which retention would
 * empty. Such a record is set back to compact, loudly, rather than kept.
 */
export function repairOffsetsTopicRecord(store: TopicStore, logger: Logger): void {
  const record = store.load().find((candidate) => candidate.name === offsetsTopic);
  const policy = record?.configs['cleanup.policy'];
  if (record === undefined || policy === 'compact') return;
  logger.warn({ topic: offsetsTopic, cleanupPolicy: policy ?? 'default' }, `${offsetsTopic} was not compacted (made by an older broker?); setting cleanup.policy=compact so committed offsets do not expire`);
  store.save({ ...record, configs: { ...record.configs, 'cleanup.policy': 'compact' } });
}

export interface CommittedOffset {
  offset: number;
  metadata: string;
  commitTimestamp: number;
}

/** group → "topic\0partition" → committed offset */
type Offsets = Map<string, Map<string, CommittedOffset>>;

const entryKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function recordKey(group: string, topic: string, partition: number): Buffer {
  return Buffer.from(JSON.stringify({ group, topic, partition }));
}

export class OffsetStore {
  readonly #offsets: Offsets = new Map();
  readonly #topics: TopicManager;
  #partition: Partition | undefined;

  /** Replays `__consumer_offsets` if it exists; it is created by the first commit. */
  constructor(topics: TopicManager) {
    this.#topics = topics;
    this.#partition = topics.find(offsetsTopic)?.partitions[0];
    if (this.#partition !== undefined) this.#replay(this.#partition);
  }

  #internalPartition(): Partition {
    this.#partition ??= this.#topics.create(offsetsTopic, 1, offsetsTopicConfigs, false, 'broker')!.partitions[0]!;
    return this.#partition;
  }

  #replay(partition: Partition): void {
    const log = partition.log;
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const { slices } = log.read(offset, 4 * 1024 * 1024);
      if (slices.length === 0) break;
      for (const slice of slices) {
        for (const { position, size } of eachBatch(slice)) {
          for (const record of decodeRecords(slice.subarray(position, position + size))) this.#apply(record.key, record.value);
          offset = batchLastOffset(slice, position) + 1;
        }
      }
    }
  }

  #apply(key: Buffer | null, value: Buffer | null): void {
    if (key === null) return;
    const { group, topic, partition } = JSON.parse(key.toString()) as { group: string; topic: string; partition: number };
    let entries = this.#offsets.get(group);
    if (value === null) {
      entries?.delete(entryKey(topic, partition));
      if (entries?.size === 0) this.#offsets.delete(group);
      return;
    }
    if (entries === undefined) {
      entries = new Map();
      this.#offsets.set(group, entries);
    }
    entries.set(entryKey(topic, partition), JSON.parse(value.toString()) as CommittedOffset);
  }

  /** Appends the commits as one batch (one write, one position in the log), then applies them. */
  commit(group: string, commits: Array<{ topic: string; partition: number; offset: number; metadata: string }>): void {
    if (commits.length === 0) return;
    const now = Date.now();
    this.#append(commits.map((commit) => ({
      key: recordKey(group, commit.topic, commit.partition),
      value: Buffer.from(JSON.stringify({ offset: commit.offset, metadata: commit.metadata, commitTimestamp: now } satisfies CommittedOffset)),
      timestamp: now,
    })));
  }

  /**
   * Forgets every offset the group committed: a tombstone (null value) per key, so a restart
   * does not bring them back and compaction removes them. Returns how many were deleted.
   */
  deleteGroup(group: string): number {
    const now = Date.now();
    const records = this.committed(group).map((entry) => ({ key: recordKey(group, entry.topic, entry.partition), value: null, timestamp: now }));
    if (records.length > 0) this.#append(records);
    return records.length;
  }

  #append(records: RecordInput[]): void {
    const batch = buildRecordBatch(records);
    const partition = this.#internalPartition();
    partition.log.append(batch);
    partition.notifyAppend(batch.length);
    for (const record of records) this.#apply(record.key, record.value);
  }

  /** When the group's newest commit was made; undefined when it has none. */
  newestCommit(group: string): number | undefined {
    let newest: number | undefined;
    for (const entry of this.#offsets.get(group)?.values() ?? []) newest = Math.max(newest ?? entry.commitTimestamp, entry.commitTimestamp);
    return newest;
  }

  committed(group: string): Array<{ topic: string; partition: number } & CommittedOffset> {
    return [...(this.#offsets.get(group) ?? new Map<string, CommittedOffset>())].map(([key, committed]) => {
      const [topic, partition] = key.split('\u0000');
      return { topic: topic!, partition: Number(partition), ...committed };
    }).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  groups(): string[] {
    return [...this.#offsets.keys()].sort();
  }

  /** A group's committed offsets with each partition's log end and lag, for people and metrics. */
  lag(group: string): Array<{ topic: string; partition: number; committedOffset: number; logEndOffset: number; lag: number }> {
    return this.committed(group).map((entry) => {
      const log = this.#topics.find(entry.topic)?.partitions[entry.partition]?.log;
      const logEndOffset = log?.logEndOffset ?? -1;
      return { topic: entry.topic, partition: entry.partition, committedOffset: entry.offset, logEndOffset, lag: logEndOffset < 0 ? -1 : Math.max(0, logEndOffset - entry.offset) };
    });
  }
}
