/**
 * Transactional ids' metadata, kept in the compacted internal topic `__transaction_state` and in
 * memory for the partitions this broker leads, as the offset store keeps group offsets
 * (groups/offset-store.ts): gaining a partition replays its log (ids there answer
 * COORDINATOR_LOAD_IN_PROGRESS meanwhile), losing it forgets them (NOT_COORDINATOR), and a write
 * is applied in memory only once it is committed, so what was answered is what a new leader
 * loads. The coordinator (coordinator.ts) decides what to write; this store only keeps it.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import { buildRecordBatch, decodeRecords, readBatchHeader } from '../../proto/record-batch/record-batch.js';
import { replayChunk } from '../storage/log-replay.js';
import { internalAppendError } from '../groups/offsets-append-error.js';
import type { OffsetsTopicPartitions } from '../groups/offsets-partitions.js';
import type { Partition } from '../topics/topic-manager.js';
import { decodeTxnKey, decodeTxnValue, encodeTxnKey, encodeTxnValue, type TxnMetadata } from './txn-record.js';
import { txnPartitionFor, txnStateTopic } from './txn-topic.js';

/** The metadata of one led partition of `__transaction_state`. */
export interface TxnShard {
  readonly partition: number;
  /** The partition's leader epoch when it was gained: the coordinator epoch stamped on markers. */
  readonly coordinatorEpoch: number;
  loading: boolean;
  readonly txns: Map<string, TxnMetadata>;
}

export interface TxnStoreOptions {
  logger?: Logger;
  /** Called once a gained partition is loaded, with its shard (the coordinator resumes its completing transactions). */
  onLoaded?: (shard: TxnShard) => void;
  /** Called when a partition is lost. */
  onUnloaded?: (partition: number) => void;
}

export class TxnStateStore {
  readonly #shards = new Map<number, TxnShard>();
  readonly #partitions: OffsetsTopicPartitions;
  readonly #options: TxnStoreOptions;
  #unsubscribe: () => void = () => {};

  constructor(partitions: OffsetsTopicPartitions, options: TxnStoreOptions = {}) {
    this.#partitions = partitions;
    this.#options = options;
  }

  /** Loads the partitions led now (before returning) and follows leadership changes from then on. */
  start(): void {
    for (let partition = 0; partition < this.#partitions.count; partition += 1) {
      if (!this.#partitions.leads(partition)) continue;
      const shard = this.#newShard(partition);
      const replica = this.#partitions.replica(partition);
      if (replica !== undefined) {
        for (let offset = replica.log.logStartOffset; offset < replica.log.logEndOffset;) offset = this.#replayChunk(shard, replica, offset);
      }
      shard.loading = false;
      this.#options.onLoaded?.(shard);
    }
    this.#unsubscribe = this.#partitions.onLeadershipChange((partition, leading) => {
      if (leading) this.#load(partition);
      else this.#unload(partition);
    });
  }

  close(): void {
    this.#unsubscribe();
  }

  get partitions(): OffsetsTopicPartitions {
    return this.#partitions;
  }

  partitionFor(transactionalId: string): number {
    return txnPartitionFor(transactionalId, this.#partitions.count);
  }

  /** The shard that holds the id; throws NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS when this broker cannot answer for it now. */
  shardFor(transactionalId: string): TxnShard {
    const partition = this.partitionFor(transactionalId);
    const shard = this.#shards.get(partition);
    if (shard === undefined) {
      throw new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker does not coordinate transactional id ${transactionalId} (partition ${partition} of ${txnStateTopic} is led elsewhere); ask FindCoordinator (key type 1) again`);
    }
    if (shard.loading) {
      throw new SluiceError('SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS', `transactional id ${transactionalId}'s state (partition ${partition} of ${txnStateTopic}) is still loading; retry shortly`);
    }
    return shard;
  }

  /** Whether the shard is still the one this broker holds for its partition (not lost or reloaded since). */
  isCurrent(shard: TxnShard): boolean {
    return this.#shards.get(shard.partition) === shard;
  }

  /** Every id of the loaded shards. */
  all(): TxnMetadata[] {
    const all: TxnMetadata[] = [];
    for (const shard of this.#shards.values()) if (!shard.loading) all.push(...shard.txns.values());
    return all;
  }

  /**
   * Writes the id's new metadata (null: forget the id, a tombstone) and applies it once committed.
   * Throws NOT_COORDINATOR if the partition was lost meanwhile (the write may or may not be in
   * the log: the new coordinator loads whatever is).
   */
  async write(shard: TxnShard, transactionalId: string, metadata: TxnMetadata | null): Promise<void> {
    const now = Date.now();
    const batch = buildRecordBatch([{ key: encodeTxnKey(transactionalId), value: metadata === null ? null : encodeTxnValue(metadata), timestamp: now }]);
    try {
      await this.#partitions.append(shard.partition, batch);
    } catch (error) {
      throw internalAppendError(error, txnStateTopic, shard.partition);
    }
    if (!this.isCurrent(shard)) {
      throw new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker stopped coordinating partition ${shard.partition} of ${txnStateTopic} while writing transactional id ${transactionalId}`);
    }
    if (metadata === null) shard.txns.delete(transactionalId);
    else shard.txns.set(transactionalId, metadata);
  }

  #newShard(partition: number): TxnShard {
    const shard: TxnShard = { partition, coordinatorEpoch: this.#partitions.replica(partition)?.leaderEpoch ?? 0, loading: true, txns: new Map() };
    this.#shards.set(partition, shard);
    return shard;
  }

  #load(partition: number): void {
    if (this.#shards.has(partition)) return;
    const shard = this.#newShard(partition);
    void (async () => {
      try {
        await yieldToEventLoop();
        const replica = this.#partitions.replica(partition);
        for (let offset = replica?.log.logStartOffset ?? 0; this.isCurrent(shard) && replica !== undefined && offset < replica.log.logEndOffset;) {
          offset = this.#replayChunk(shard, replica, offset);
          await yieldToEventLoop();
        }
        if (!this.isCurrent(shard)) return;
        shard.loading = false;
        this.#options.onLoaded?.(shard);
      } catch (error) {
        this.#options.logger?.error({ err: error, topic: txnStateTopic, partition }, 'loading transaction state failed; this broker will not coordinate the partition\'s transactional ids');
        if (this.isCurrent(shard)) this.#unload(partition);
      }
    })();
  }

  #unload(partition: number): void {
    if (!this.#shards.delete(partition)) return;
    this.#options.onUnloaded?.(partition);
  }

  #replayChunk(shard: TxnShard, replica: Partition, offset: number): number {
    return replayChunk(replica.log, offset, (batch) => {
      if (readBatchHeader(batch).isControl) return;
      for (const record of decodeRecords(batch)) {
        if (record.key === null) continue;
        const id = decodeTxnKey(record.key);
        if (record.value === null) shard.txns.delete(id);
        else shard.txns.set(id, decodeTxnValue(id, record.value));
      }
    });
  }
}

