/**
 * Transactions, shaped like KafkaJS's:
 *
 *   const producer = sluice.producer({ transactionalId: 'orders-app' });
 *   const tx = await producer.transaction();
 *   await tx.send({ topic: 'b', messages });
 *   await tx.sendOffsets({ consumer, topics: [{ topic: 'a', partitions: [{ partition: 0, offset: 42 }] }] });
 *   await tx.commit();          // or tx.abort()
 *
 * The flow is Kafka's: FindCoordinator (key type 1) names the transactional id's coordinator;
 * InitProducerId there, on the first transaction, gives the producer id and a new epoch (which
 * fences older producers with the same transactional id and aborts what they left open); each
 * partition joins the transaction with AddPartitionsToTxn before its first batch (transactional
 * batches: attribute bit 4, producer id, epoch and sequence numbers as an idempotent producer's);
 * consumed offsets join with AddOffsetsToTxn and go to the group's coordinator with
 * TxnOffsetCommit; every batch is acknowledged before EndTxn commits or aborts. Answers that
 * say "not now" (CONCURRENT_TRANSACTIONS: the previous transaction's markers are still being
 * written; the coordinator moved or is loading) are retried with a back-off. A fenced producer
 * (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) can do nothing more: close it. After any other
 * failure of a transaction only abort() is allowed. One transaction at a time per producer.
 */
import { GroupCoordinator } from './groups/coordinator.js';
import type { MetadataCache } from './metadata.js';
import type { ProducerIdentity, ProducerRecord, RecordMetadata, TransactionHooks } from './producer.js';
import { errorFromWire, SluiceError } from '../proto/errors.js';
import { Api, type ApiKey, type RequestBodies, type ResponseBodies } from '../proto/messages.js';

export interface TransactionOffsets {
  /** A group consumer: its group, generation and member id go with the offsets, so a fenced member's are refused. */
  consumer?: { groupMetadata(): { groupId: string | undefined; generationId: number; memberId: string } };
  /** The group, when no consumer is given (then generation and member are not checked). */
  consumerGroupId?: string;
  /** The offsets to commit: the next record to read, as in a plain commit. */
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: number; metadata?: string }> }>;
}

/** What the transaction needs from its producer. */
export interface TransactionalProducer {
  send(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }): Promise<RecordMetadata[]>;
  /** Resolves once every batch sent so far is acknowledged or failed. */
  flush(): Promise<void>;
  /** The producer id the producer's batches carry; set by InitProducerId. */
  identity(): ProducerIdentity | undefined;
}

type State = 'uninitialized' | 'ready' | 'in-transaction' | 'committing' | 'aborting' | 'abortable' | 'fatal';

/** Codes retried against the transaction coordinator: "not now", or "ask the coordinator found anew". */
const retriableCodes: ReadonlySet<string> = new Set([
  'SLUICE_ERR_CONCURRENT_TRANSACTIONS', 'SLUICE_ERR_NOT_COORDINATOR', 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', 'SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS',
  'SLUICE_ERR_CONNECTION', 'SLUICE_ERR_TIMEOUT', 'SLUICE_ERR_REQUEST_TIMED_OUT', 'SLUICE_ERR_BROKER_SHUTTING_DOWN', 'SLUICE_ERR_NOT_ENOUGH_REPLICAS',
  'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', 'SLUICE_ERR_LEADER_NOT_AVAILABLE', 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER',
]);
const fatalCodes: ReadonlySet<string> = new Set(['SLUICE_ERR_PRODUCER_FENCED', 'SLUICE_ERR_INVALID_PRODUCER_EPOCH', 'SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND', 'SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING']);
const codeOf = (error: unknown): string => (SluiceError.is(error) ? error.code : '');

export interface TransactionSettings {
  transactionalId: string;
  transactionTimeoutMs: number;
  /** How long one coordinator call keeps retrying (default 60 s, as Kafka's max.block.ms). */
  retryForMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
}

/** A producer's transactional state: its producer id, the open transaction's partitions, and what went wrong. */
export class TransactionManager implements TransactionHooks {
  readonly #metadata: MetadataCache;
  readonly #settings: TransactionSettings;
  readonly #coordinator: GroupCoordinator;
  #producer: TransactionalProducer | undefined;
  #state: State = 'uninitialized';
  #error: unknown;
  /** Partitions in the open transaction (`topic\0partition`), and the ones being added. */
  readonly #partitions = new Set<string>();
  readonly #adding = new Map<string, Promise<void>>();
  #toAdd: Array<{ topic: string; partition: number; key: string }> = [];
  #addRound: Promise<Map<string, unknown>> | undefined;
  #offsetsAdded = false;
  /** The next transaction starts with InitProducerId bumping the epoch (the last one failed). */
  #bumpEpoch = false;
  #current: Transaction | undefined;

  constructor(metadata: MetadataCache, settings: TransactionSettings) {
    this.#metadata = metadata;
    this.#settings = settings;
    this.#coordinator = new GroupCoordinator(metadata, settings.transactionalId, { keyType: 1, retryForMs: settings.retryForMs, retryBackoffMs: settings.retryBackoffMs });
  }

  attach(producer: TransactionalProducer): void {
    this.#producer = producer;
  }

  get transactionalId(): string {
    return this.#settings.transactionalId;
  }

  /** InitProducerId at the transactional id's coordinator; `current` asks for its epoch to be bumped (KIP-360). */
  async initProducerId(current: ProducerIdentity | undefined): Promise<ProducerIdentity> {
    const answer = await this.#call<'initProducerId'>(Api.INIT_PRODUCER_ID, {
      transactionalId: this.#settings.transactionalId, transactionTimeoutMs: this.#settings.transactionTimeoutMs,
      ...(current === undefined ? {} : { producerId: current.producerId, producerEpoch: current.producerEpoch }),
    });
    return { producerId: answer.producerId, producerEpoch: answer.producerEpoch };
  }

  /** Starts a transaction: on the first one, once the producer has its id; `renew` gets (or bumps) it. */
  async begin(renew: (stale: ProducerIdentity | undefined) => Promise<ProducerIdentity>): Promise<Transaction> {
    this.#throwIfFatal();
    if (this.#current !== undefined) {
      throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `transactional id ${this.#settings.transactionalId} already has a transaction open in this producer; commit or abort it first (one at a time)`);
    }
    await this.init(renew);
    this.#state = 'in-transaction';
    this.#error = undefined;
    this.#partitions.clear();
    this.#offsetsAdded = false;
    this.#current = new Transaction(this);
    return this.#current;
  }

  /**
   * Gets the producer id (or bumps its epoch after a failed transaction) unless it has one:
   * this fences older producers with the same transactional id and aborts what they left open.
   */
  async init(renew: (stale: ProducerIdentity | undefined) => Promise<ProducerIdentity>): Promise<void> {
    this.#throwIfFatal();
    if (this.#state === 'uninitialized' || this.#bumpEpoch) {
      const stale = this.#bumpEpoch ? this.#producer?.identity() : undefined;
      try {
        await renew(stale);
      } catch (error) {
        if (fatalCodes.has(codeOf(error))) this.#state = 'fatal';
        if (this.#state === 'fatal') this.#error = error;
        throw error;
      }
      this.#bumpEpoch = false;
      if (this.#state === 'uninitialized') this.#state = 'ready';
    }
  }

  // ---- hooks the producer calls ----

  addPartition(topic: string, partition: number): Promise<void> | undefined {
    const key = `${topic}\u0000${partition}`;
    if (this.#partitions.has(key)) return undefined;
    if (this.#state !== 'in-transaction' && this.#state !== 'committing' && this.#state !== 'aborting') {
      return Promise.reject(this.#error ?? new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', 'records of a transactional producer go through a transaction: producer.transaction(), then tx.send()'));
    }
    let adding = this.#adding.get(key);
    if (adding !== undefined) return adding;
    this.#toAdd.push({ topic, partition, key });
    // Partitions asked for in the same turn of the event loop (one send's partitions) join with one request.
    this.#addRound ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#addPartitions());
    adding = this.#addRound.then((failures) => {
      const failure = failures.get(key);
      if (failure !== undefined) throw failure;
      this.#partitions.add(key);
    }).finally(() => this.#adding.delete(key));
    this.#adding.set(key, adding);
    return adding;
  }

  failed(error: unknown): void {
    if (fatalCodes.has(codeOf(error))) {
      this.#state = 'fatal';
      this.#error = error;
      return;
    }
    // A batch given up leaves a gap in its partition's sequence (and a lost-state answer means the
    // sequence is unknown): the next transaction starts under a bumped epoch, sequences from 0 (KIP-360).
    this.#bumpEpoch = true;
    if (this.#state === 'in-transaction' || this.#state === 'committing') {
      this.#state = 'abortable';
      this.#error = error;
    }
  }

  // ---- what Transaction calls ----

  async send(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }): Promise<RecordMetadata[]> {
    this.#throwUnlessOpen('send');
    return this.#producer!.send(request);
  }

  async sendOffsets(offsets: TransactionOffsets): Promise<void> {
    this.#throwUnlessOpen('sendOffsets');
    const groupId = offsets.consumer?.groupMetadata().groupId ?? offsets.consumerGroupId;
    if (groupId === undefined || groupId === '') {
      throw new SluiceError('SLUICE_ERR_CONFIG', 'sendOffsets needs a group: a consumer created with a groupId, or consumerGroupId');
    }
    const identity = this.#identity();
    try {
      if (!this.#offsetsAdded) {
        await this.#call<'addOffsetsToTxn'>(Api.ADD_OFFSETS_TO_TXN, { transactionalId: this.#settings.transactionalId, ...identity, groupId });
        this.#offsetsAdded = true;
      }
      const member = offsets.consumer?.groupMetadata();
      const group = new GroupCoordinator(this.#metadata, groupId, { retryForMs: this.#settings.retryForMs, retryBackoffMs: this.#settings.retryBackoffMs });
      const body = {
        transactionalId: this.#settings.transactionalId, groupId, ...identity,
        generationId: member?.generationId ?? -1, memberId: member?.memberId ?? '',
        topics: offsets.topics.map((topic) => ({ name: topic.topic, partitions: topic.partitions.map((entry) => ({ partition: entry.partition, offset: entry.offset, metadata: entry.metadata ?? '' })) })),
      };
      await this.#retrying(async () => {
        const answer = await group.request<'txnOffsetCommit'>(Api.TXN_OFFSET_COMMIT, body);
        for (const topic of answer.topics) {
          for (const partition of topic.partitions) if (partition.errorCode !== 0) throw errorFromWire(partition.errorCode, `${topic.name}/${partition.partition}: ${partition.errorMessage}`);
        }
      });
    } catch (error) {
      this.failed(error);
      throw error;
    }
  }

  async commit(transaction: Transaction): Promise<void> {
    this.#checkCurrent(transaction, 'commit');
    if (this.#state === 'abortable' || this.#state === 'fatal') throw this.#cannot('commit');
    this.#state = 'committing';
    await this.#producer!.flush();
    // A batch that failed for good makes the transaction one that can only be aborted.
    if (this.#state !== 'committing') throw this.#cannot('commit');
    try {
      await this.#end(true);
    } catch (error) {
      this.failed(error);
      throw error;
    }
    this.#finish();
  }

  async abort(transaction: Transaction): Promise<void> {
    this.#checkCurrent(transaction, 'abort');
    if (this.#state === 'fatal') throw this.#cannot('abort');
    this.#state = 'aborting';
    // What is still queued or in flight goes out and is then aborted with the rest.
    await this.#producer!.flush();
    // The flush may have met a fence (the state changes behind TypeScript's back).
    if ((this.#state as State) === 'fatal') throw this.#cannot('abort');
    try {
      await this.#end(false);
    } catch (error) {
      this.failed(error);
      throw error;
    }
    this.#finish();
  }

  /**
   * The transaction left open when the producer closes, if any: aborted now (as Kafka's
   * producer does on a graceful close) rather than holding back read_committed consumers of its
   * partitions until the coordinator's timeout aborts it.
   */
  async abortOpen(): Promise<void> {
    const open = this.#current;
    if (open === undefined || (this.#state !== 'in-transaction' && this.#state !== 'abortable')) return;
    await this.abort(open);
  }

  isActive(transaction: Transaction): boolean {
    return this.#current === transaction && this.#state !== 'fatal';
  }

  /** Partitions of the open transaction, as `topic/partition` (for logs and tests). */
  partitions(): string[] {
    return [...this.#partitions].map((key) => key.replace('\u0000', '/'));
  }

  // ---- internals ----

  async #end(committed: boolean): Promise<void> {
    // Nothing reached the coordinator: there is no transaction there to end.
    if (this.#partitions.size === 0 && !this.#offsetsAdded) return;
    await this.#call<'endTxn'>(Api.END_TXN, { transactionalId: this.#settings.transactionalId, ...this.#identity(), committed });
  }

  #finish(): void {
    this.#state = 'ready';
    this.#current = undefined;
    this.#partitions.clear();
    this.#offsetsAdded = false;
    this.#error = undefined;
  }

  async #addPartitions(): Promise<Map<string, unknown>> {
    const wanted = this.#toAdd;
    this.#toAdd = [];
    this.#addRound = undefined;
    const failures = new Map<string, unknown>();
    const topics = new Map<string, number[]>();
    for (const entry of wanted) topics.set(entry.topic, [...(topics.get(entry.topic) ?? []), entry.partition]);
    try {
      await this.#retrying(async () => {
        const answer = await this.#coordinator.request<'addPartitionsToTxn'>(Api.ADD_PARTITIONS_TO_TXN, {
          transactionalId: this.#settings.transactionalId, ...this.#identity(), topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
        });
        let retry: unknown;
        for (const topic of answer.topics) {
          for (const partition of topic.partitions) {
            if (partition.errorCode === 0) continue;
            const error = errorFromWire(partition.errorCode, `${topic.name}/${partition.partition}: ${partition.errorMessage}`);
            if (retriableCodes.has(error.code)) retry ??= error;
            else throw error;
          }
        }
        if (retry !== undefined) throw retry;
      });
    } catch (error) {
      this.failed(error);
      for (const entry of wanted) failures.set(entry.key, error);
    }
    return failures;
  }

  /** A request to the transaction coordinator, retried while it answers "not now"; the body's error code is thrown. */
  #call<F extends keyof RequestBodies>(api: ApiKey, body: RequestBodies[F]): Promise<ResponseBodies[F]> {
    return this.#retrying(async () => {
      const answer = await this.#coordinator.request<F>(api, body);
      const { errorCode, errorMessage } = answer as { errorCode?: number; errorMessage?: string };
      if (errorCode) throw errorFromWire(errorCode, errorMessage ?? '');
      return answer;
    });
  }

  async #retrying<T>(work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#settings.retryForMs;
    let backoffMs = this.#settings.retryBackoffMs;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!retriableCodes.has(codeOf(error)) || Date.now() + backoffMs >= deadline) {
          if (fatalCodes.has(codeOf(error))) {
            this.#state = 'fatal';
            this.#error = error;
          }
          throw error;
        }
        const code = codeOf(error);
        if (code === 'SLUICE_ERR_NOT_COORDINATOR' || code === 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE' || code === 'SLUICE_ERR_CONNECTION') this.#coordinator.lost();
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, this.#settings.retryBackoffMaxMs);
      }
    }
  }

  #identity(): { producerId: number; producerEpoch: number } {
    const identity = this.#producer?.identity();
    if (identity === undefined) throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', 'the producer has no producer id yet; start with producer.transaction()');
    return { producerId: identity.producerId, producerEpoch: identity.producerEpoch };
  }

  #checkCurrent(transaction: Transaction, what: string): void {
    if (this.#current !== transaction) throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `${what}: this transaction has already ended`);
  }

  #throwIfFatal(): void {
    if (this.#state === 'fatal') throw this.#error;
  }

  #throwUnlessOpen(what: string): void {
    if (this.#current === undefined) throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `${what}: no transaction is open; start one with producer.transaction()`);
    if (this.#state === 'fatal') throw this.#error;
    if (this.#state === 'abortable') throw this.#cannot(what);
    if (this.#state !== 'in-transaction') throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `${what}: the transaction is ${this.#state === 'committing' ? 'being committed' : 'being aborted'}`);
  }

  #cannot(what: string): SluiceError {
    const cause = this.#error;
    const detail = SluiceError.is(cause) ? `${cause.detail} [${cause.code}]` : String(cause);
    if (this.#state === 'fatal') {
      return new SluiceError(SluiceError.is(cause) ? cause.code : 'SLUICE_ERR_PRODUCER_FENCED', `${what}: this producer was fenced (${detail}); close it`, { cause });
    }
    return new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `${what}: the transaction failed (${detail}); abort it`, { cause });
  }
}

/** One open transaction of a transactional producer. */
export class Transaction {
  readonly #manager: TransactionManager;

  constructor(manager: TransactionManager) {
    this.#manager = manager;
  }

  get transactionalId(): string {
    return this.#manager.transactionalId;
  }

  /** Sends records as part of the transaction; they become visible to read_committed consumers on commit. */
  send(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }): Promise<RecordMetadata[]> {
    return this.#manager.send(request);
  }

  /** Commits a group's consumed offsets with the transaction (consume-transform-produce). */
  sendOffsets(offsets: TransactionOffsets): Promise<void> {
    return this.#manager.sendOffsets(offsets);
  }

  /** Waits for every record of the transaction, then commits it. On failure only abort() is left. */
  commit(): Promise<void> {
    return this.#manager.commit(this);
  }

  abort(): Promise<void> {
    return this.#manager.abort(this);
  }

  isActive(): boolean {
    return this.#manager.isActive(this);
  }
}
