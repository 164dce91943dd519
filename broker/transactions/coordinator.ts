/**
 * The transaction coordinator, following Kafka's (TransactionCoordinator.scala): per
 * transactional id, the producer id and epoch it hands out, the partitions of the open
 * transaction, and the two-phase end of a transaction — PrepareCommit/PrepareAbort written to
 * `__transaction_state` (the answer to EndTxn goes out then), markers written to every
 * partition of the transaction (marker-sender.ts), then CompleteCommit/CompleteAbort written.
 *
 * Calls about one id run one at a time (a queue per id), so each sees the result of the last.
 * A new InitProducerId for an id bumps its epoch: the older producer, a zombie, gets
 * PRODUCER_FENCED from then on, and a transaction it left open is aborted first (its markers
 * carry the new epoch, so its partitions reject the zombie's later writes); the caller gets
 * CONCURRENT_TRANSACTIONS until the abort is complete and retries. An open transaction older
 * than its timeout is aborted the same way (txn-timeouts.ts). A coordinator that takes over a
 * partition of `__transaction_state` finishes the transactions it finds half-ended there.
 */
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import type { TransactionDescription, TransactionListing, TxnTopicPartitions } from '../../proto/messages.js';
import type { MarkerSender } from './marker-sender.js';
import { groupByTopic, sortPartitions, type TxnMetadata, type TxnPartition } from './txn-record.js';
import { checkMove, isIdle, isPreparing, type TxnState, txnStates } from './txn-state.js';
import type { TxnShard, TxnStateStore } from './txn-store.js';

/** transaction.max.timeout.ms default: 15 minutes. */
export const txnMaxTimeoutMsDefault = 900_000;
/** Kafka bumps to a new producer id rather than reach Short.MAX_VALUE. */
const epochMax = 32_767 - 1;
/** How long AddPartitionsToTxn or InitProducerId waits for the previous transaction's markers before answering CONCURRENT_TRANSACTIONS. */
const completionWaitMs = 500;

export interface TxnCoordinatorOptions {
  store: TxnStateStore;
  markers: Pick<MarkerSender, 'send' | 'close'>;
  /** A new, never used producer id (H2's allocator). */
  allocateProducerId: () => Promise<number>;
  maxTimeoutMs: number;
  logger: Logger;
  now?: () => number;
}

export interface TxnCounters {
  committed: number;
  aborted: number;
  timedOut: number;
}

export interface InitRequest {
  transactionalId: string;
  transactionTimeoutMs: number;
  producerId?: number | null;
  producerEpoch?: number | null;
}

export interface ProducerRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
}

const key = (entry: TxnPartition) => `${entry.topic}\u0000${entry.partition}`;

export class TransactionCoordinator {
  readonly counters: TxnCounters = { committed: 0, aborted: 0, timedOut: 0 };
  readonly #store: TxnStateStore;
  readonly #markers: Pick<MarkerSender, 'send' | 'close'>;
  readonly #allocate: () => Promise<number>;
  readonly #maxTimeoutMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Completions in progress (markers being written) per transactional id. */
  readonly #completing = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: TxnCoordinatorOptions) {
    this.#store = options.store;
    this.#markers = options.markers;
    this.#allocate = options.allocateProducerId;
    this.#maxTimeoutMs = options.maxTimeoutMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  get store(): TxnStateStore {
    return this.#store;
  }

  /** Called by the store once a partition is loaded: finishes what its previous coordinator left half-ended. */
  resume(shard: TxnShard): void {
    for (const metadata of shard.txns.values()) {
      if (metadata.state === 'PrepareCommit' || metadata.state === 'PrepareAbort') {
        this.#logger.info({ transactionalId: metadata.transactionalId, state: metadata.state, partitions: metadata.partitions.length }, 'resuming a transaction\'s markers after gaining its coordinator');
        this.#startCompletion(shard, metadata);
      }
    }
  }

  /** InitProducerId with a transactional id: a producer id and a new epoch for it. */
  async initProducer(request: InitRequest): Promise<{ producerId: number; producerEpoch: number }> {
    const { transactionalId } = request;
    checkTransactionalId(transactionalId);
    if (!Number.isInteger(request.transactionTimeoutMs) || request.transactionTimeoutMs <= 0 || request.transactionTimeoutMs > this.#maxTimeoutMs) {
      throw new SluiceError('SLUICE_ERR_INVALID_TRANSACTION_TIMEOUT', `transaction timeout ${request.transactionTimeoutMs} ms is not within 1..${this.#maxTimeoutMs} ms (transaction.max.timeout.ms)`);
    }
    await this.#settleCompletion(transactionalId);
    return await this.#serially(transactionalId, async () => {
      const shard = this.#store.shardFor(transactionalId);
      const current = shard.txns.get(transactionalId);
      const now = this.#now();
      if (current === undefined || current.state === 'Dead') {
        const producerId = await this.#allocate();
        const fresh: TxnMetadata = {
          transactionalId, producerId, lastProducerId: -1, producerEpoch: 0, lastProducerEpoch: -1, timeoutMs: request.transactionTimeoutMs,
          state: 'Empty', partitions: [], lastUpdateMs: now, startMs: -1,
        };
        await this.#store.write(shard, transactionalId, fresh);
        this.#logger.info({ transactionalId, producerId }, 'transactional id registered');
        return { producerId, producerEpoch: 0 };
      }
      this.#checkProducerForInit(current, request);
      if (isPreparing(current.state)) {
        throw new SluiceError('SLUICE_ERR_CONCURRENT_TRANSACTIONS', `transactional id ${transactionalId}'s previous transaction is still completing (${current.state}); retry`);
      }
      if (current.state === 'Ongoing') {
        // The previous producer left a transaction open: abort it under a bumped epoch, which fences that producer.
        await this.#fenceAndAbort(shard, current, 'fenced by a new producer');
        throw new SluiceError('SLUICE_ERR_CONCURRENT_TRANSACTIONS', `transactional id ${transactionalId} had an open transaction; it is being aborted, retry`);
      }
      const next = bumpEpoch(current, await this.#allocateIfOverflow(current));
      Object.assign(next, { state: 'Empty' as TxnState, partitions: [], timeoutMs: request.transactionTimeoutMs, lastUpdateMs: now, startMs: -1 });
      await this.#store.write(shard, transactionalId, next);
      return { producerId: next.producerId, producerEpoch: next.producerEpoch };
    });
  }

  /** AddPartitionsToTxn (and AddOffsetsToTxn with the group's offsets partition): the transaction now spans these partitions. */
  async addPartitions(request: ProducerRequest, partitions: readonly TxnPartition[]): Promise<void> {
    await this.#settleCompletion(request.transactionalId);
    return await this.#serially(request.transactionalId, async () => {
      const shard = this.#store.shardFor(request.transactionalId);
      const current = this.#checkProducer(shard, request);
      if (isPreparing(current.state)) {
        throw new SluiceError('SLUICE_ERR_CONCURRENT_TRANSACTIONS', `transactional id ${request.transactionalId}'s previous transaction is still completing (${current.state}); retry`);
      }
      if (current.state === 'Dead') throw new SluiceError('SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING', `transactional id ${request.transactionalId} expired; call InitProducerId again`);
      const known = new Set(current.state === 'Ongoing' ? current.partitions.map(key) : []);
      const added = partitions.filter((entry) => !known.has(key(entry)));
      if (current.state === 'Ongoing' && added.length === 0) return;
      checkMove(request.transactionalId, current.state, 'Ongoing');
      const now = this.#now();
      const base = current.state === 'Ongoing' ? current.partitions : [];
      await this.#store.write(shard, request.transactionalId, {
        ...current, state: 'Ongoing', partitions: dedupe([...base, ...added]), lastUpdateMs: now, startMs: current.state === 'Ongoing' ? current.startMs : now,
      });
    });
  }

  /**
   * EndTxn: resolves once PrepareCommit/PrepareAbort is written; the markers and the Complete
   * state follow. A retry of an ended transaction with the same outcome is answered OK (or
   * CONCURRENT_TRANSACTIONS while its markers are still being written); the opposite outcome
   * INVALID_TXN_STATE.
   */
  endTxn(request: ProducerRequest & { committed: boolean }): Promise<void> {
    return this.#serially(request.transactionalId, async () => {
      const shard = this.#store.shardFor(request.transactionalId);
      const current = this.#checkProducer(shard, request, true);
      const wanted = request.committed ? 'Commit' : 'Abort';
      const outcome = request.committed ? 'commit' : 'abort';
      switch (current.state) {
        case 'Ongoing': {
          const next: TxnMetadata = { ...current, state: request.committed ? 'PrepareCommit' : 'PrepareAbort', lastUpdateMs: this.#now() };
          await this.#store.write(shard, request.transactionalId, next);
          this.#startCompletion(shard, next);
          return;
        }
        case 'PrepareCommit':
        case 'PrepareAbort':
          if (current.state === `Prepare${wanted}` && current.producerEpoch === request.producerEpoch) {
            throw new SluiceError('SLUICE_ERR_CONCURRENT_TRANSACTIONS', `transactional id ${request.transactionalId}'s ${outcome} is still writing its markers; retry`);
          }
          break;
        case 'CompleteCommit':
        case 'CompleteAbort':
          if (current.state === `Complete${wanted}` && current.producerEpoch === request.producerEpoch) return;
          break;
        case 'Empty':
          // An abort with nothing added is a no-op for Kafka's clients too; a commit of nothing is not a transaction.
          if (!request.committed) return;
          break;
        default:
          break;
      }
      throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `transactional id ${request.transactionalId} cannot ${outcome}: its transaction is ${current.state}`);
    });
  }

  /** Aborts open transactions older than their timeout (bumping the epoch, so their producer is fenced). */
  async abortTimedOut(): Promise<number> {
    const now = this.#now();
    const expired = this.#store.all().filter((metadata) => metadata.state === 'Ongoing' && metadata.startMs >= 0 && now - metadata.startMs > metadata.timeoutMs);
    let aborted = 0;
    await Promise.all(expired.map(async (candidate) => {
      try {
        await this.#serially(candidate.transactionalId, async () => {
          const shard = this.#store.shardFor(candidate.transactionalId);
          const current = shard.txns.get(candidate.transactionalId);
          if (current?.state !== 'Ongoing' || current.producerEpoch !== candidate.producerEpoch || now - current.startMs <= current.timeoutMs) return;
          this.#logger.warn({ transactionalId: current.transactionalId, producerId: current.producerId, ageMs: now - current.startMs, timeoutMs: current.timeoutMs }, 'aborting a transaction open longer than its timeout');
          await this.#fenceAndAbort(shard, current, 'timed out');
          this.counters.timedOut += 1;
          aborted += 1;
        });
      } catch (error) {
        this.#logger.warn({ err: error, transactionalId: candidate.transactionalId }, 'aborting a timed-out transaction failed; will retry');
      }
    }));
    return aborted;
  }

  /** Forgets ids with no open transaction that have not been used for `expirationMs` (a tombstone in the log). */
  async expireIds(expirationMs: number): Promise<number> {
    const now = this.#now();
    const idle = this.#store.all().filter((metadata) => isIdle(metadata.state) && now - metadata.lastUpdateMs > expirationMs);
    let expired = 0;
    await Promise.all(idle.map(async (candidate) => {
      try {
        await this.#serially(candidate.transactionalId, async () => {
          const shard = this.#store.shardFor(candidate.transactionalId);
          const current = shard.txns.get(candidate.transactionalId);
          if (current === undefined || !isIdle(current.state) || now - current.lastUpdateMs <= expirationMs) return;
          await this.#store.write(shard, current.transactionalId, null);
          expired += 1;
        });
      } catch (error) {
        this.#logger.warn({ err: error, transactionalId: candidate.transactionalId }, 'expiring a transactional id failed; will retry');
      }
    }));
    if (expired > 0) this.#logger.info({ expired, expirationMs }, 'expired idle transactional ids');
    return expired;
  }

  /** The ids this broker coordinates; `minDurationMs` (ListTransactions v1) keeps only transactions open at least that long. */
  list(filters: { states?: readonly string[]; producerIds?: readonly number[]; minDurationMs?: number } = {}): TransactionListing[] {
    const states = new Set(filters.states ?? []);
    const producerIds = new Set(filters.producerIds ?? []);
    const minDurationMs = filters.minDurationMs ?? -1;
    const now = this.#now();
    return this.#store.all()
      .filter((metadata) => (states.size === 0 || states.has(metadata.state)) && (producerIds.size === 0 || producerIds.has(metadata.producerId)))
      .filter((metadata) => minDurationMs < 0 || (!isIdle(metadata.state) && metadata.startMs >= 0 && now - metadata.startMs >= minDurationMs))
      .map((metadata) => ({ transactionalId: metadata.transactionalId, producerId: metadata.producerId, state: metadata.state }))
      .sort((a, b) => a.transactionalId.localeCompare(b.transactionalId));
  }

  describe(transactionalId: string): TransactionDescription {
    const shard = this.#store.shardFor(transactionalId);
    const metadata = shard.txns.get(transactionalId);
    if (metadata === undefined) throw new SluiceError('SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND', `transactional id ${transactionalId} is not known to its coordinator`);
    return {
      errorCode: 0, errorMessage: '', transactionalId, state: metadata.state, transactionTimeoutMs: metadata.timeoutMs, transactionStartTimeMs: metadata.startMs,
      producerId: metadata.producerId, producerEpoch: metadata.producerEpoch, topics: topicsOf(metadata.partitions),
    };
  }

  /** Open transactions by state, for metrics. */
  countsByState(): Record<TxnState, number> {
    const counts = Object.fromEntries(txnStates.map((state) => [state, 0])) as Record<TxnState, number>;
    for (const metadata of this.#store.all()) counts[metadata.state] += 1;
    return counts;
  }

  /** Settles once the id's completion in progress (if any) is done; for tests and a clean stop. */
  async completion(transactionalId: string): Promise<void> {
    await this.#completing.get(transactionalId)?.catch(() => {});
  }

  close(): void {
    this.#closed = true;
    this.#markers.close();
  }

  /**
   * A producer's next transaction usually starts while the markers of its last one are still
   * landing (they take about a millisecond on one broker): waiting up to
   * `completionWaitMs` for them saves it a CONCURRENT_TRANSACTIONS answer and a client back-off.
   * Called outside #serially, which the completion itself needs.
   */
  async #settleCompletion(transactionalId: string): Promise<void> {
    const completing = this.#completing.get(transactionalId);
    if (completing === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([completing, new Promise((resolve) => { timer = setTimeout(resolve, completionWaitMs).unref(); })]);
    clearTimeout(timer);
  }

  /** Runs `work` after every earlier call about the same id has settled. */
  #serially<T>(transactionalId: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new SluiceError('SLUICE_ERR_BROKER_SHUTTING_DOWN', 'the transaction coordinator is stopping'));
    const previous = this.#queues.get(transactionalId) ?? Promise.resolve();
    const result = previous.catch(() => {}).then(work);
    const settled = result.catch(() => {});
    this.#queues.set(transactionalId, settled);
    void settled.then(() => {
      if (this.#queues.get(transactionalId) === settled) this.#queues.delete(transactionalId);
    });
    return result;
  }

  #checkProducer(shard: TxnShard, request: ProducerRequest, endTxn = false): TxnMetadata {
    const current = shard.txns.get(request.transactionalId);
    if (current === undefined) {
      throw new SluiceError('SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING', `transactional id ${request.transactionalId} has no producer here; call InitProducerId first`);
    }
    if (current.producerId !== request.producerId) {
      // An EndTxn retried after the epoch overflowed to a new producer id carries the old id.
      const retriedAfterOverflow = endTxn && current.lastProducerId === request.producerId && current.lastProducerEpoch === request.producerEpoch;
      if (!retriedAfterOverflow) {
        throw new SluiceError('SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING', `producer id ${request.producerId} does not belong to transactional id ${request.transactionalId} (it has ${current.producerId})`);
      }
    }
    if (current.producerId === request.producerId && current.producerEpoch !== request.producerEpoch) {
      throw new SluiceError('SLUICE_ERR_PRODUCER_FENCED', `producer ${request.producerId} epoch ${request.producerEpoch} of transactional id ${request.transactionalId} was fenced by epoch ${current.producerEpoch}`);
    }
    return current;
  }

  /** KIP-360: a producer that passes its id and epoch may only bump from them. */
  #checkProducerForInit(current: TxnMetadata, request: InitRequest): void {
    const producerId = request.producerId ?? -1;
    const producerEpoch = request.producerEpoch ?? -1;
    if (producerId < 0) return;
    const isCurrent = producerId === current.producerId && producerEpoch === current.producerEpoch;
    const isRetry = (producerId === current.producerId && producerEpoch === current.lastProducerEpoch)
      || (producerId === current.lastProducerId && producerEpoch === current.lastProducerEpoch);
    if (!isCurrent && !isRetry) {
      throw new SluiceError('SLUICE_ERR_PRODUCER_FENCED', `producer ${producerId} epoch ${producerEpoch} of transactional id ${current.transactionalId} was fenced (now producer ${current.producerId} epoch ${current.producerEpoch})`);
    }
  }

  async #allocateIfOverflow(current: TxnMetadata): Promise<number | undefined> {
    return current.producerEpoch >= epochMax ? await this.#allocate() : undefined;
  }

  /** Bumps the epoch of an Ongoing transaction and writes PrepareAbort under it; its markers then follow. */
  async #fenceAndAbort(shard: TxnShard, current: TxnMetadata, why: string): Promise<void> {
    const bumped = bumpEpoch(current, await this.#allocateIfOverflow(current));
    const next: TxnMetadata = { ...bumped, state: 'PrepareAbort', lastUpdateMs: this.#now() };
    await this.#store.write(shard, current.transactionalId, next);
    this.#logger.info({ transactionalId: current.transactionalId, producerId: next.producerId, producerEpoch: next.producerEpoch, why }, 'aborting an open transaction under a new epoch');
    this.#startCompletion(shard, next);
  }

  /** Writes the markers of a Prepare* transaction, then its Complete* state; retried until done or the shard is lost. */
  #startCompletion(shard: TxnShard, prepared: TxnMetadata): void {
    const { transactionalId } = prepared;
    const committed = prepared.state === 'PrepareCommit';
    const stillWanted = () => this.#store.isCurrent(shard) && shard.txns.get(transactionalId)?.state === prepared.state
      && shard.txns.get(transactionalId)?.producerEpoch === prepared.producerEpoch;
    const completion = (async () => {
      await this.#markers.send(
        { producerId: prepared.producerId, producerEpoch: prepared.producerEpoch, committed, coordinatorEpoch: shard.coordinatorEpoch },
        prepared.partitions, stillWanted,
      );
      for (let attempt = 0; ; attempt += 1) {
        try {
          await this.#serially(transactionalId, async () => {
            if (!stillWanted()) return;
            const current = shard.txns.get(transactionalId)!;
            const next: TxnMetadata = { ...current, state: committed ? 'CompleteCommit' : 'CompleteAbort', partitions: [], lastUpdateMs: this.#now() };
            checkMove(transactionalId, current.state, next.state);
            await this.#store.write(shard, transactionalId, next);
            if (committed) this.counters.committed += 1;
            else this.counters.aborted += 1;
          });
          return;
        } catch (error) {
          if (this.#closed || !this.#store.isCurrent(shard)) return;
          if (attempt % 20 === 0) this.#logger.warn({ err: error, transactionalId }, 'writing a transaction\'s completion failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 200).unref());
        }
      }
    })();
    const tracked = completion.catch((error: unknown) => {
      if (!(SluiceError.is(error) && error.code === 'SLUICE_ERR_ABORTED')) this.#logger.error({ err: error, transactionalId }, 'completing a transaction failed');
    }).finally(() => {
      if (this.#completing.get(transactionalId) === tracked) this.#completing.delete(transactionalId);
    });
    this.#completing.set(transactionalId, tracked);
  }
}

function bumpEpoch(current: TxnMetadata, newProducerId: number | undefined): TxnMetadata {
  if (newProducerId !== undefined) {
    return { ...current, lastProducerId: current.producerId, lastProducerEpoch: current.producerEpoch, producerId: newProducerId, producerEpoch: 0 };
  }
  return { ...current, lastProducerId: -1, lastProducerEpoch: current.producerEpoch, producerEpoch: current.producerEpoch + 1 };
}

function dedupe(partitions: TxnPartition[]): TxnPartition[] {
  return sortPartitions([...new Map(partitions.map((entry) => [key(entry), entry])).values()]);
}

function topicsOf(partitions: readonly TxnPartition[]): TxnTopicPartitions[] {
  return groupByTopic(partitions).map(({ topic, partitions: list }) => ({ name: topic, partitions: list }));
}

export function checkTransactionalId(transactionalId: string): void {
  if (transactionalId.length === 0 || Buffer.byteLength(transactionalId) > 0x7fff) {
    throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'a transactional id is 1 to 32767 bytes');
  }
}
