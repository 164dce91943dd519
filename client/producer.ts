/**
 * The producer: records are grouped per partition into RecordBatch v2 batches (up to
 * `batchSize` bytes, or after `lingerMs`), optionally compressed, and sent to the partition's
 * leader. Buffered bytes are bounded by `bufferMemoryBytes`: past it, `send()` waits until
 * earlier records are acknowledged (backpressure).
 *
 * Idempotent (the default, as Kafka's Java client since 3.0): before its first batch the
 * producer gets a producer id and epoch (InitProducerId, any broker), and numbers each
 * partition's records from 0; every batch carries the id, the epoch and its first record's
 * sequence number, so the leader stores a batch it already has only once and answers with the
 * original offset (broker/services/produce.ts). Up to `maxInFlight` batches (default 5) per
 * partition are in flight at once. When one fails, the later ones fail too (the leader refuses
 * a sequence gap with OUT_OF_ORDER_SEQUENCE_NUMBER): the partition stops sending new batches,
 * waits for every answer, then sends its unacknowledged batches again one at a time, the same
 * bytes with the same sequence numbers, before going on. A batch that is the only one in
 * flight and still gets OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID means the leader
 * lost this producer's state (an unclean election, expiry): the producer takes a new producer
 * id and restarts that partition's sequences at 0 (Kafka's KIP-360), logging a warning.
 * INVALID_PRODUCER_EPOCH and PRODUCER_FENCED end the producer: every pending send fails.
 * Idempotence needs acks=all.
 *
 * `idempotent: false` is at-least-once: no producer id, one batch per partition in flight,
 * so retries never reorder a partition but a retry after a lost answer can store a batch twice.
 *
 * An answer that says the client's metadata is stale (another leader, a fenced epoch, too few
 * in-sync replicas, a lost connection) makes the producer refresh metadata before the retry,
 * which then goes wherever the leader is now; the partition's later batches wait behind it.
 *
 * Every record has one delivery deadline, `deliveryTimeoutMs` after its send() (Kafka's
 * delivery.timeout.ms): retries of a batch stop once its oldest record passes it, and records
 * still queued behind a batch fail at their own deadline rather than waiting for their turn,
 * so a broker that cannot store is reported within the timeout, not after one full retry
 * cycle per queued batch.
 */
import { errorFromWire, SluiceError } from '../proto/errors.js';
import { type ClientLogger, defaultLogger } from './logger.js';
import { isStaleMetadata, leaderConnectTimeoutMs, type MetadataCache } from './metadata.js';
import { keyPartition, StickyPartitioner } from './partitioner.js';
import { Api } from '../proto/messages.js';
import { compressionTypes, isCompression } from '../proto/record-batch/compression.js';
import { buildRecordBatch, type Compression, type RecordInput } from '../proto/record-batch/record-batch.js';
import { type Transaction, TransactionManager } from './transaction.js';

export type Bytes = Buffer | string;

export interface ProducerRecord {
  key?: Bytes | null;
  value: Bytes | null;
  headers?: Record<string, Bytes | null>;
  partition?: number;
  timestamp?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0: the broker does not say. */
  offset: number;
}

export interface ProducerOptions {
  /** 0: fire and forget; 1: the leader appended it; -1 or 'all': the in-sync replicas have it. */
  acks?: 0 | 1 | -1 | 'all';
  /**
   * How long a partition's records wait for more before their batch is sent (default 5; 0 for
   * a transactional producer, whose tx.send() callers wait for the acknowledgement anyway).
   */
  lingerMs?: number;
  batchSize?: number;
  /**
   * Codec of the batches it sends (Kafka's compression.type): none (default), gzip, snappy
   * (xerial-framed, as Kafka's Java client writes it), lz4 or zstd (level 3).
   */
  compression?: Compression;
  /** Attempts after the first for a retriable error (default: unbounded, the delivery timeout bounds them). */
  retries?: number;
  retryBackoffMs?: number;
  /** Longest pause between retries: the back-off doubles up to this (Kafka's retry.backoff.max.ms, default 1000). */
  retryBackoffMaxMs?: number;
  /** How long a record may take from send() to acknowledgement, retries included (default 120 000). */
  deliveryTimeoutMs?: number;
  bufferMemoryBytes?: number;
  requestTimeoutMs?: number;
  /**
   * Exactly one copy of each record per partition, in order, across retries and leader changes
   * (default true, unless `acks` is set to 0 or 1, which asks for the at-least-once producer).
   * Needs acks=all.
   */
  idempotent?: boolean;
  /** Batches in flight per partition, 1..5 (default 5 when idempotent; the at-least-once producer sends one at a time). */
  maxInFlight?: number;
  /** Makes the producer transactional (see `transaction()`): its batches are committed or aborted together. */
  transactionalId?: string;
  /** How long the coordinator lets a transaction stay open before aborting it (default 60 000). */
  transactionTimeoutMs?: number;
}

/** A producer id and epoch, as InitProducerId gave them. */
export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

/** Kafka's sequence numbers wrap from 2^31−1 to 0. */
export function nextSequence(sequence: number, records: number): number {
  const max = 0x7fffffff;
  return sequence > max - records ? records - (max - sequence) - 1 : sequence + records;
}

const fatalCodes: ReadonlySet<string> = new Set(['SLUICE_ERR_INVALID_PRODUCER_EPOCH', 'SLUICE_ERR_PRODUCER_FENCED', 'SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND', 'SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING']);
/** The leader does not have this producer's state where the batch expects it. */
const lostStateCodes: ReadonlySet<string> = new Set(['SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER', 'SLUICE_ERR_UNKNOWN_PRODUCER_ID']);
const codeOf = (error: unknown): string | undefined => (SluiceError.is(error) ? error.code : undefined);
/** A new producer id per lost state in a row, at most: past it the batch fails. */
const resetsPerBatchMax = 3;

/** Consecutive records of one send() for one partition: settled together by one promise. */
interface Piece {
  inputs: RecordInput[];
  bytes: number;
  /** When delivery of these records is given up (epoch ms): deliveryTimeoutMs after their send(). */
  deadline: number;
  resolve: (baseOffset: number) => void;
  reject: (error: unknown) => void;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  pieces: Piece[];
  bytes: number;
  inflight: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Fires at the oldest queued piece's deadline. */
  expiry: NodeJS.Timeout | undefined;
  /** The last error a produce to this partition got, reported as the cause of a timeout. */
  lastError: unknown;
  /** The broker the last produce of this partition went to (−1: none yet). */
  leaderId: number;
  /** Idempotent: batches sent and not yet acknowledged, in sequence order. */
  batches: SequencedBatch[];
  /** The producer id and epoch of this partition's batches; undefined before the first. */
  identity: ProducerIdentity | undefined;
  nextSequence: number;
  /** After a failure: no new batches until the unacknowledged ones are sent again, in order. */
  recovering: boolean;
}

/** An idempotent batch: built once, sent again byte for byte until acknowledged or given up. */
interface SequencedBatch {
  pieces: Piece[];
  records: number;
  /** Buffered bytes it holds (released when it settles). */
  bytes: number;
  deadline: number;
  identity: ProducerIdentity;
  baseSequence: number;
  buffer: Buffer;
  /** A produce of it is waiting for its answer. */
  sending: boolean;
  /** The last failure of a send; undefined when it has not failed (or is being sent again). */
  failed: unknown;
  attempts: number;
  resets: number;
}

/** What a transactional producer's transaction (client/transaction.ts) does around the batches. */
export interface TransactionHooks {
  /** Resolves once the partition is in the transaction (AddPartitionsToTxn); undefined when it already is. */
  addPartition(topic: string, partition: number): Promise<void> | undefined;
  /** A batch of the transaction failed for good: the transaction can only be aborted. */
  failed(error: unknown): void;
}

const toBuffer = (value: Bytes | null | undefined): Buffer | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? Buffer.from(value) : value;

/**
 * A send() only some of whose records were delivered (partitions fail on their own): the first
 * failure's code and message, which records made it, and how many did not. A send none of
 * whose records were delivered rejects with the failure itself.
 */
export class DeliveryError extends SluiceError {
  /** Per message of the send, in order: where it landed, or undefined when it was not delivered. */
  readonly results: Array<RecordMetadata | undefined>;
  readonly failedRecords: number;

  constructor(first: unknown, results: Array<RecordMetadata | undefined>, failedRecords: number) {
    const known = SluiceError.is(first);
    super(known ? first.code : 'SLUICE_ERR_UNKNOWN', known ? first.detail : String((first as Error)?.message ?? first), { cause: first });
    this.name = 'DeliveryError';
    this.results = results;
    this.failedRecords = failedRecords;
  }
}

/** A piece's records that failed: the one error they share. */
interface Undelivered {
  error: unknown;
}

type ResolvedOptions = Required<Omit<ProducerOptions, 'acks' | 'transactionalId'>> & { acks: 0 | 1 | -1; transactionalId: string | undefined };

export class Producer {
  readonly #metadata: MetadataCache;
  readonly #options: ResolvedOptions;
  readonly #logger: ClientLogger;
  readonly #sticky: StickyPartitioner;
  readonly #queues = new Map<string, PartitionQueue>();
  readonly #memoryWaiters: Array<() => void> = [];
  #bufferedBytes = 0;
  #sendChain: Promise<void> = Promise.resolve();
  #idleWaiters: Array<() => void> = [];
  #closed = false;
  /** Idempotent: the producer id and epoch new batches get; undefined until InitProducerId answered. */
  #identity: ProducerIdentity | undefined;
  #renewing: Promise<ProducerIdentity> | undefined;
  /** Set once the producer was fenced: every send fails with it. */
  #fatal: unknown;
  /** Transactional: asks the transaction coordinator for the producer id instead of any broker. */
  #initProducerId: ((current: ProducerIdentity | undefined) => Promise<ProducerIdentity>) | undefined;
  #transaction: TransactionHooks | undefined;
  readonly #transactions: TransactionManager | undefined;

  constructor(metadata: MetadataCache, options: ProducerOptions = {}, logger?: ClientLogger) {
    this.#metadata = metadata;
    this.#logger = logger ?? defaultLogger();
    const acks = options.acks === 'all' ? -1 : options.acks ?? -1;
    const transactional = options.transactionalId !== undefined;
    if (transactional && (typeof options.transactionalId !== 'string' || options.transactionalId === '')) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `transactionalId must be a non-empty string, got ${JSON.stringify(options.transactionalId)}`);
    }
    if (options.idempotent === true && acks !== -1) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `idempotent: true needs acks: 'all' (got acks: ${options.acks}); leave acks out, or set idempotent: false for an at-least-once producer with acks ${options.acks}`);
    }
    if (transactional && (options.idempotent === false || acks !== -1)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `a transactional producer is idempotent with acks: 'all'; transactionalId cannot go with ${options.idempotent === false ? 'idempotent: false' : `acks: ${options.acks}`}`);
    }
    // As Kafka's client: acks 0 or 1 chosen without a word on idempotence means at-least-once.
    const idempotent = options.idempotent ?? acks === -1;
    const maxInFlight = options.maxInFlight ?? (idempotent ? 5 : 1);
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 5) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `maxInFlight must be 1..5 batches per partition, got ${JSON.stringify(options.maxInFlight)}`);
    }
    if (!idempotent && maxInFlight > 1) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `maxInFlight: ${maxInFlight} needs idempotent: true; the at-least-once producer sends one batch per partition at a time so a retry cannot reorder a partition`);
    }
    this.#options = {
      lingerMs: options.transactionalId === undefined ? 5 : 0, batchSize: 16384, compression: 'none', retries: Number.MAX_SAFE_INTEGER, retryBackoffMs: 100, retryBackoffMaxMs: 1000,
      bufferMemoryBytes: 32 * 1024 * 1024, requestTimeoutMs: 30_000, deliveryTimeoutMs: 120_000, transactionTimeoutMs: 60_000, ...options,
      acks, idempotent, maxInFlight, transactionalId: options.transactionalId,
    };
    if (!isCompression(this.#options.compression)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `compression must be one of ${compressionTypes.join(', ')}, got ${JSON.stringify(this.#options.compression)}`);
    }
    if (!(this.#options.deliveryTimeoutMs > 0)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `deliveryTimeoutMs must be a positive number of milliseconds, got ${this.#options.deliveryTimeoutMs}`);
    }
    this.#sticky = new StickyPartitioner(this.#options.batchSize);
    if (this.#options.transactionalId !== undefined) {
      const manager = new TransactionManager(metadata, {
        transactionalId: this.#options.transactionalId, transactionTimeoutMs: this.#options.transactionTimeoutMs,
        retryForMs: Math.max(60_000, this.#options.transactionTimeoutMs), retryBackoffMs: this.#options.retryBackoffMs, retryBackoffMaxMs: this.#options.retryBackoffMaxMs,
      });
      manager.attach({ send: (request) => this.#send(request), flush: () => this.flush(), identity: () => this.#identity });
      this.#transactions = manager;
      this.#transaction = manager;
      this.#initProducerId = (current) => manager.initProducerId(current);
    }
  }

  /**
   * Gets the transactional producer's id from its coordinator now rather than at the first
   * transaction(): an older producer with the same transactional id is fenced and the
   * transaction it left open aborted. A consume-transform-produce loop calls it before it reads,
   * so its read_committed consumer does not wait on offsets that abandoned transaction holds.
   */
  async initTransactions(): Promise<void> {
    if (this.#transactions === undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'initTransactions() needs a producer made with a transactionalId');
    if (this.#closed) throw new SluiceError('SLUICE_ERR_ABORTED', 'the producer is closed');
    if (this.#fatal !== undefined) throw this.#fatal;
    await this.#transactions.init((stale) => this.#renewIdentity(stale));
  }

  /**
   * Starts a transaction (a producer made with `transactionalId`); the first one also gets the
   * producer id from the transaction coordinator, fencing older producers with the same id.
   */
  transaction(): Promise<Transaction> {
    if (this.#transactions === undefined) return Promise.reject(new SluiceError('SLUICE_ERR_CONFIG', 'transaction() needs a producer made with a transactionalId'));
    if (this.#closed) return Promise.reject(new SluiceError('SLUICE_ERR_ABORTED', 'the producer is closed'));
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    return this.#transactions.begin((stale) => this.#renewIdentity(stale));
  }

  /**
   * Queues the messages; resolves with where each landed once the broker acknowledged it.
   * Calls are queued in the order they are made, so concurrent sends keep their order within
   * every partition.
   */
  send(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }): Promise<RecordMetadata[]> {
    if (this.#transactions !== undefined) {
      return Promise.reject(new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `producer ${this.#options.transactionalId} is transactional: send through a transaction (const tx = await producer.transaction(); await tx.send(...))`));
    }
    return this.#send(request);
  }

  #send(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }): Promise<RecordMetadata[]> {
    const deadline = Date.now() + this.#options.deliveryTimeoutMs;
    const enqueued = this.#sendChain.then(() => this.#enqueueAll(request, deadline));
    this.#sendChain = enqueued.then(() => {}, () => {});
    return enqueued.then(({ acknowledged }) => acknowledged);
  }

  /** Queues every message; resolves once they are queued, with a promise of their acknowledgements. */
  async #enqueueAll(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }, deadline: number): Promise<{ acknowledged: Promise<RecordMetadata[]> }> {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_ABORTED', 'the producer is closed');
    if (this.#fatal !== undefined) throw this.#fatal;
    const { topic, messages } = request;
    const partitions = await this.#metadata.partitionCount(topic, request.signal);
    // Group by partition, keeping order; remember where each message went to answer in order.
    const groups = new Map<number, { inputs: RecordInput[]; sizes: number[] }>();
    const placement = new Array<[partition: number, index: number]>(messages.length);
    for (let position = 0; position < messages.length; position += 1) {
      const message = messages[position]!;
      const key = toBuffer(message.key);
      const value = toBuffer(message.value);
      const headers = message.headers === undefined ? undefined
        : Object.entries(message.headers).map(([name, header]) => ({ key: name, value: toBuffer(header) }));
      let bytes = 21 + (key?.length ?? 0) + (value?.length ?? 0);
      if (headers !== undefined) for (const header of headers) bytes += header.key.length + (header.value?.length ?? 0) + 2;
      let partition = message.partition;
      if (partition === undefined) partition = key === null ? this.#sticky.partition(topic, partitions, bytes) : keyPartition(key, partitions);
      else if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
        throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has partitions 0..${partitions - 1}, not ${partition}`);
      }
      let group = groups.get(partition);
      if (group === undefined) {
        group = { inputs: [], sizes: [] };
        groups.set(partition, group);
      }
      placement[position] = [partition, group.inputs.length];
      group.inputs.push({ key, value, headers, timestamp: message.timestamp ?? Date.now() });
      group.sizes.push(bytes);
    }
    // Enqueueing finishes before the next send() starts (it may wait for memory); acks come later.
    const offsets = new Map<number, Promise<Array<number | Undelivered>>>();
    for (const [partition, group] of groups) {
      const { acknowledged } = await this.#enqueueGroup(topic, partition, group.inputs, group.sizes, deadline, request.signal);
      acknowledged.catch(() => {});
      offsets.set(partition, acknowledged);
    }
    const acknowledged = Promise.all([...offsets].map(async ([partition, pending]) => [partition, await pending] as const)).then((settled) => {
      const byPartition = new Map(settled);
      let failed = 0;
      let first: unknown;
      const results = placement.map(([partition, index]): RecordMetadata | undefined => {
        const outcome = byPartition.get(partition)![index]!;
        if (typeof outcome === 'number') return { topic, partition, offset: outcome };
        failed += 1;
        first ??= outcome.error;
        return undefined;
      });
      if (failed === results.length) throw first;
      if (failed > 0) throw new DeliveryError(first, results, failed);
      return results as RecordMetadata[];
    });
    acknowledged.catch(() => {});
    return { acknowledged };
  }

  /** Splits one partition's records into pieces of at most a batch and queues them; `acknowledged` gives their offsets. */
  async #enqueueGroup(
    topic: string, partition: number, inputs: RecordInput[], sizes: number[], deadline: number, signal?: AbortSignal,
  ): Promise<{ acknowledged: Promise<Array<number | Undelivered>> }> {
    const pieces: Array<Promise<Array<number | Undelivered>>> = [];
    for (let start = 0; start < inputs.length;) {
      let end = start;
      let bytes = 0;
      while (end < inputs.length && (end === start || bytes + sizes[end]! <= this.#options.batchSize)) bytes += sizes[end++]!;
      if (this.#bufferedBytes > 0 && this.#bufferedBytes + bytes > this.#options.bufferMemoryBytes) await this.#reserve(bytes, signal);
      else this.#bufferedBytes += bytes;
      const count = end - start;
      const piece = new Promise<number>((resolve, reject) => {
        this.#enqueue(topic, partition, { inputs: inputs.slice(start, end), bytes, deadline, resolve, reject });
      });
      pieces.push(piece.then(
        (base) => Array.from({ length: count }, (_, index) => (base < 0 ? -1 : base + index)),
        (error: unknown) => new Array<Undelivered>(count).fill({ error }),
      ));
      start = end;
    }
    return { acknowledged: Promise.all(pieces).then((settled) => (settled.length === 1 ? settled[0]! : settled.flat())) };
  }

  async #reserve(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    while (this.#bufferedBytes > 0 && this.#bufferedBytes + bytes > this.#options.bufferMemoryBytes) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => this.#memoryWaiters.push(resolve));
    }
    this.#bufferedBytes += bytes;
  }

  #release(bytes: number): void {
    this.#bufferedBytes -= bytes;
    for (const waiter of this.#memoryWaiters.splice(0)) waiter();
    if (this.#bufferedBytes === 0) for (const waiter of this.#idleWaiters.splice(0)) waiter();
  }

  #enqueue(topic: string, partition: number, piece: Piece): void {
    const id = `${topic}\u0000${partition}`;
    let queue = this.#queues.get(id);
    if (queue === undefined) {
      queue = {
        topic, partition, pieces: [], bytes: 0, inflight: false, timer: undefined, expiry: undefined, lastError: undefined, leaderId: -1,
        batches: [], identity: undefined, nextSequence: 0, recovering: false,
      };
      this.#queues.set(id, queue);
    }
    queue.pieces.push(piece);
    queue.bytes += piece.bytes;
    this.#scheduleExpiry(queue);
    if (queue.bytes >= this.#options.batchSize || this.#options.lingerMs === 0) this.#drain(queue);
    else queue.timer ??= setTimeout(() => this.#drain(queue, true), this.#options.lingerMs);
  }

  #scheduleExpiry(queue: PartitionQueue): void {
    const oldest = queue.pieces[0];
    if (queue.expiry !== undefined || oldest === undefined) return;
    queue.expiry = setTimeout(() => {
      queue.expiry = undefined;
      this.#expire(queue);
      this.#scheduleExpiry(queue);
    }, Math.max(0, oldest.deadline - Date.now()));
    // Pending work keeps the process alive by its sockets and linger timers, not by deadlines.
    queue.expiry.unref();
  }

  /** Fails every queued (not in-flight) piece whose deadline has passed, all at once. */
  #expire(queue: PartitionQueue): void {
    const now = Date.now();
    // Pieces queue in send() order, so deadlines only grow along the queue: the first tells.
    let count = 0;
    while (count < queue.pieces.length && queue.pieces[count]!.deadline <= now) count += 1;
    if (count === 0) return;
    const expired = queue.pieces.splice(0, count);
    let bytes = 0;
    let records = 0;
    for (const piece of expired) {
      bytes += piece.bytes;
      records += piece.inputs.length;
    }
    queue.bytes -= bytes;
    const error = this.#deliveryTimeout(queue, records, queue.lastError, 'queued');
    for (const piece of expired) piece.reject(error);
    this.#release(bytes);
  }

  #deliveryTimeout(queue: PartitionQueue, records: number, cause: unknown, where: 'queued' | 'retried'): SluiceError {
    const last = cause === undefined ? '' : `; last error: ${SluiceError.is(cause) ? `${cause.detail} [${cause.code}]` : String(cause)}`;
    return new SluiceError('SLUICE_ERR_TIMEOUT', `delivery to ${queue.topic}/${queue.partition} timed out: ${records} record${records === 1 ? '' : 's'} ${where === 'queued' ? 'still queued' : 'not acknowledged'} `
      + `${this.#options.deliveryTimeoutMs} ms after send()${last}; check the broker (its log says why it refused them) or raise deliveryTimeoutMs`, cause === undefined ? undefined : { cause });
  }

  /** A produce that failed for good: the broker's code, with the partition and record count in the message. */
  #deliveryFailed(queue: PartitionQueue, records: number, error: unknown): unknown {
    if (!SluiceError.is(error)) return error;
    return new SluiceError(error.code, `delivery to ${queue.topic}/${queue.partition} failed for ${records} record${records === 1 ? '' : 's'}: ${error.detail}`, { cause: error });
  }

  /** Sends what may be sent now; `force`: a batch that is not full too (the linger passed, or a flush). */
  #drain(queue: PartitionQueue, force = false): void {
    clearTimeout(queue.timer);
    queue.timer = undefined;
    this.#expire(queue);
    if (this.#options.idempotent) {
      this.#drainSequenced(queue, force || this.#options.lingerMs === 0);
      return;
    }
    if (queue.inflight || queue.pieces.length === 0) return;
    const { pieces, bytes } = this.#takeBatch(queue);
    queue.inflight = true;
    void this.#sendBatch(queue, pieces).finally(() => {
      queue.inflight = false;
      this.#release(bytes);
      if (queue.pieces.length > 0) this.#drain(queue);
    });
  }

  /** Takes the queue's first pieces up to batchSize bytes (at least one piece) for one batch. */
  #takeBatch(queue: PartitionQueue): { pieces: Piece[]; bytes: number } {
    let bytes = 0;
    let count = 0;
    while (count < queue.pieces.length && (count === 0 || bytes + queue.pieces[count]!.bytes <= this.#options.batchSize)) {
      bytes += queue.pieces[count]!.bytes;
      count += 1;
    }
    queue.bytes -= bytes;
    return { pieces: queue.pieces.splice(0, count), bytes };
  }

  // ---- idempotent: sequence numbers, several batches in flight, resend in order ----

  #drainSequenced(queue: PartitionQueue, force: boolean): void {
    if (this.#fatal !== undefined) {
      this.#failQueued(queue, this.#fatal);
      return;
    }
    if (queue.recovering || queue.pieces.length === 0) return;
    const identity = this.#identity;
    if (identity === undefined) {
      this.#renewIdentity(undefined).then(() => this.#drain(queue, force), (error: unknown) => this.#failQueued(queue, error));
      return;
    }
    if (queue.identity !== identity) {
      // Batches of the old producer id go first; this partition switches once they settled.
      if (queue.batches.length > 0) return;
      queue.identity = identity;
      queue.nextSequence = 0;
    }
    if (this.#transaction !== undefined) {
      const adding = this.#transaction.addPartition(queue.topic, queue.partition);
      if (adding !== undefined) {
        adding.then(() => this.#drain(queue, force), (error: unknown) => {
          this.#transaction?.failed(error);
          this.#failQueued(queue, error);
        });
        return;
      }
    }
    while (queue.pieces.length > 0 && queue.batches.length < this.#options.maxInFlight && (force || queue.bytes >= this.#options.batchSize)) {
      const { pieces, bytes } = this.#takeBatch(queue);
      let records = 0;
      let deadline = Infinity;
      for (const piece of pieces) {
        records += piece.inputs.length;
        deadline = Math.min(deadline, piece.deadline);
      }
      const batch: SequencedBatch = {
        pieces, records, bytes, deadline, identity, baseSequence: queue.nextSequence, buffer: Buffer.alloc(0), sending: false, failed: undefined, attempts: 0, resets: 0,
      };
      try {
        this.#build(batch);
      } catch (error) {
        for (const piece of pieces) piece.reject(error);
        this.#release(bytes);
        continue;
      }
      queue.nextSequence = nextSequence(queue.nextSequence, records);
      queue.batches.push(batch);
      this.#sendSequenced(queue, batch);
    }
    if (queue.pieces.length > 0 && queue.batches.length < this.#options.maxInFlight) {
      queue.timer ??= setTimeout(() => this.#drain(queue, true), this.#options.lingerMs);
    }
  }

  #build(batch: SequencedBatch): void {
    const inputs = batch.pieces.length === 1 ? batch.pieces[0]!.inputs : batch.pieces.flatMap((piece) => piece.inputs);
    batch.buffer = buildRecordBatch(inputs, {
      compression: this.#options.compression, producerId: batch.identity.producerId, producerEpoch: batch.identity.producerEpoch,
      baseSequence: batch.baseSequence, transactional: this.#transaction !== undefined,
    });
  }

  /** One produce of a batch, pipelined with the partition's other batches. */
  #sendSequenced(queue: PartitionQueue, batch: SequencedBatch): void {
    batch.sending = true;
    batch.attempts += 1;
    const remainingMs = batch.deadline - Date.now();
    const sent = remainingMs <= 0
      ? Promise.reject(this.#deliveryTimeout(queue, batch.records, queue.lastError, 'retried'))
      : this.#produce(queue, batch.buffer, Math.min(this.#options.requestTimeoutMs, Math.ceil(remainingMs)));
    sent.then((baseOffset) => {
      batch.sending = false;
      this.#acknowledge(queue, batch, baseOffset);
      if (queue.recovering) this.#recoverWhenSettled(queue);
      else this.#drain(queue, queue.batches.length === 0);
    }, (error: unknown) => {
      batch.sending = false;
      if (codeOf(error) === 'SLUICE_ERR_DUPLICATE_SEQUENCE_NUMBER') {
        // A broker that knows the batch but not its offset: stored, once.
        this.#acknowledge(queue, batch, -1);
        if (queue.recovering) this.#recoverWhenSettled(queue);
        else this.#drain(queue, queue.batches.length === 0);
        return;
      }
      if (fatalCodes.has(codeOf(error) ?? '')) {
        this.#fence(error);
        return;
      }
      batch.failed = error;
      queue.lastError = error;
      queue.recovering = true;
      this.#recoverWhenSettled(queue);
    });
  }

  #acknowledge(queue: PartitionQueue, batch: SequencedBatch, baseOffset: number): void {
    const index = queue.batches.indexOf(batch);
    if (index < 0) return;
    queue.batches.splice(index, 1);
    if (batch.failed === undefined) queue.lastError = undefined;
    let offset = 0;
    for (const piece of batch.pieces) {
      piece.resolve(baseOffset < 0 ? -1 : baseOffset + offset);
      offset += piece.inputs.length;
    }
    this.#release(batch.bytes);
  }

  /** Gives a batch up: its records fail with `error` (and a transaction it was part of can only abort). */
  #giveUp(queue: PartitionQueue, batch: SequencedBatch, error: unknown): void {
    this.#transaction?.failed(error);
    const index = queue.batches.indexOf(batch);
    if (index >= 0) queue.batches.splice(index, 1);
    for (const piece of batch.pieces) piece.reject(error);
    this.#release(batch.bytes);
  }

  #recoverWhenSettled(queue: PartitionQueue): void {
    if (queue.batches.some((batch) => batch.sending)) return;
    void this.#recover(queue);
  }

  /**
   * Sends the partition's unacknowledged batches again, one at a time and in sequence order,
   * as they were (a batch the leader has is answered with its first offset), until none is
   * left; then the partition goes back to sending new batches.
   */
  async #recover(queue: PartitionQueue): Promise<void> {
    // Once a batch went through again, the later batches' failures are old news (mostly the gap
    // the first one left): they go again at once, without their own back-off and refresh.
    let resent = false;
    try {
      while (queue.batches.length > 0 && this.#fatal === undefined) {
        const batch = queue.batches[0]!;
        const error = batch.failed;
        if (error !== undefined) {
          const retriable = (SluiceError.is(error) && error.retriable) || lostStateCodes.has(codeOf(error) ?? '');
          if (!retriable || this.#closed || batch.attempts > this.#options.retries) {
            // The next batch then has a gap before it: the leader says so, and it gets a new sequence below.
            this.#giveUp(queue, batch, this.#deliveryFailed(queue, batch.records, error));
            continue;
          }
          if (!resent && !lostStateCodes.has(codeOf(error) ?? '')) {
            const backoffMs = Math.min(this.#options.retryBackoffMs * 2 ** Math.min(batch.attempts - 1, 30), this.#options.retryBackoffMaxMs);
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(backoffMs, batch.deadline - Date.now()))));
            if (isStaleMetadata(error)) await this.#metadata.refresh(undefined, queue.leaderId).catch(() => {});
          }
        }
        if (Date.now() >= batch.deadline) {
          this.#giveUp(queue, batch, this.#deliveryTimeout(queue, batch.records, queue.lastError, 'retried'));
          continue;
        }
        batch.failed = undefined;
        batch.sending = true;
        batch.attempts += 1;
        let outcome: { offset: number } | { error: unknown };
        try {
          outcome = { offset: await this.#produce(queue, batch.buffer, Math.min(this.#options.requestTimeoutMs, Math.ceil(batch.deadline - Date.now()))) };
        } catch (failure) {
          outcome = { error: failure };
        } finally {
          batch.sending = false;
        }
        if ('offset' in outcome) {
          this.#acknowledge(queue, batch, outcome.offset);
          resent = true;
          continue;
        }
        const code = codeOf(outcome.error);
        if (code === 'SLUICE_ERR_DUPLICATE_SEQUENCE_NUMBER') {
          this.#acknowledge(queue, batch, -1);
          continue;
        }
        if (fatalCodes.has(code ?? '')) {
          this.#fence(outcome.error);
          return;
        }
        queue.lastError = outcome.error;
        resent = false;
        if (lostStateCodes.has(code ?? '')) {
          // Alone in flight, every batch before it acknowledged or given up: the leader has no
          // state that leads to this sequence, so nothing from here on was written.
          await this.#restartSequences(queue, batch, outcome.error);
          continue;
        }
        batch.failed = outcome.error;
      }
    } catch (error) {
      // Only a failed InitProducerId gets here: the batches cannot be numbered anew.
      for (const batch of [...queue.batches]) this.#giveUp(queue, batch, error);
    } finally {
      queue.recovering = false;
    }
    if (this.#fatal !== undefined) this.#fence(this.#fatal);
    else this.#drain(queue, true);
  }

  /** The leader lost this producer's state: a new producer id, and the partition's batches numbered from 0 again. */
  async #restartSequences(queue: PartitionQueue, batch: SequencedBatch, error: unknown): Promise<void> {
    if (this.#transaction !== undefined || batch.resets >= resetsPerBatchMax) {
      // A transaction cannot go on with records of two producer epochs: it must abort.
      this.#transaction?.failed(error);
      for (const pending of [...queue.batches]) this.#giveUp(queue, pending, this.#deliveryFailed(queue, pending.records, error));
      return;
    }
    const stale = batch.identity;
    const identity = await this.#renewIdentity(stale);
    this.#logger.warn({ topic: queue.topic, partition: queue.partition, producerId: stale.producerId, producerEpoch: stale.producerEpoch, baseSequence: batch.baseSequence,
      newProducerId: identity.producerId, newProducerEpoch: identity.producerEpoch, error: SluiceError.is(error) ? error.code : String(error) },
    'the leader lost this producer\'s sequence state (an unclean leader election, or the state expired): numbering the partition\'s unacknowledged batches anew under a new producer id');
    queue.identity = identity;
    queue.nextSequence = 0;
    for (const pending of queue.batches) {
      pending.identity = identity;
      pending.baseSequence = queue.nextSequence;
      pending.resets += pending === batch ? 1 : 0;
      pending.failed = undefined;
      this.#build(pending);
      queue.nextSequence = nextSequence(queue.nextSequence, pending.records);
    }
  }

  /** The current producer id, or a new one when `stale` is still the current one (shared by concurrent callers). */
  #renewIdentity(stale: ProducerIdentity | undefined): Promise<ProducerIdentity> {
    if (this.#identity !== undefined && this.#identity !== stale) return Promise.resolve(this.#identity);
    this.#renewing ??= (this.#initProducerId ?? ((current) => this.#initIdempotent(current)))(stale).then((identity) => {
      this.#identity = identity;
      return identity;
    }, (error: unknown) => {
      if (fatalCodes.has(codeOf(error) ?? '') || (SluiceError.is(error) && !error.retriable)) this.#fence(error);
      throw error;
    }).finally(() => { this.#renewing = undefined; });
    return this.#renewing;
  }

  /** InitProducerId without a transactional id, from any broker, retried until the delivery timeout. */
  async #initIdempotent(current: ProducerIdentity | undefined): Promise<ProducerIdentity> {
    const deadline = Date.now() + this.#options.deliveryTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const answer = await this.#metadata.pool.any((connection, request) => connection.request<'initProducerId'>(Api.INIT_PRODUCER_ID, {
          transactionalId: '', transactionTimeoutMs: 0, ...(current === undefined ? {} : { producerId: current.producerId, producerEpoch: current.producerEpoch }),
        }, { connectTimeoutMs: request.connectTimeoutMs, timeoutMs: this.#options.requestTimeoutMs }));
        if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage);
        return { producerId: answer.producerId, producerEpoch: answer.producerEpoch };
      } catch (error) {
        if (codeOf(error) === 'SLUICE_ERR_UNKNOWN_API' || codeOf(error) === 'SLUICE_ERR_UNSUPPORTED_VERSION') {
          throw new SluiceError('SLUICE_ERR_UNSUPPORTED_VERSION', `the broker cannot give producer ids (InitProducerId), which an idempotent producer needs; upgrade the broker or set idempotent: false (${SluiceError.is(error) ? error.detail : String(error)})`, { cause: error });
        }
        const backoffMs = Math.min(this.#options.retryBackoffMs * 2 ** Math.min(attempt, 30), this.#options.retryBackoffMaxMs);
        if (!SluiceError.is(error) || !error.retriable || this.#closed || Date.now() + backoffMs >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  /** Fenced (another producer took over this id, or the coordinator refuses it): every pending and later send fails. */
  #fence(error: unknown): void {
    this.#fatal ??= error;
    this.#transaction?.failed(error);
    for (const queue of this.#queues.values()) {
      for (const batch of [...queue.batches]) if (!batch.sending) this.#giveUp(queue, batch, this.#deliveryFailed(queue, batch.records, this.#fatal));
      this.#failQueued(queue, this.#fatal);
    }
  }

  /** Fails every queued (not yet sent) piece of a partition. */
  #failQueued(queue: PartitionQueue, error: unknown): void {
    const pieces = queue.pieces.splice(0);
    if (pieces.length === 0) return;
    let bytes = 0;
    let records = 0;
    for (const piece of pieces) {
      bytes += piece.bytes;
      records += piece.inputs.length;
    }
    queue.bytes -= bytes;
    const failure = this.#deliveryFailed(queue, records, error);
    for (const piece of pieces) piece.reject(failure);
    this.#release(bytes);
  }

  // ---- at-least-once: one batch per partition in flight ----

  async #sendBatch(queue: PartitionQueue, pieces: Piece[]): Promise<void> {
    let batch: Buffer;
    try {
      batch = buildRecordBatch(pieces.length === 1 ? pieces[0]!.inputs : pieces.flatMap((piece) => piece.inputs), { compression: this.#options.compression });
    } catch (error) {
      for (const piece of pieces) piece.reject(error);
      return;
    }
    let records = 0;
    let deadline = Infinity;
    for (const piece of pieces) {
      records += piece.inputs.length;
      deadline = Math.min(deadline, piece.deadline);
    }
    let lastError: unknown;
    for (let attempt = 0; ; attempt += 1) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        const error = this.#deliveryTimeout(queue, records, lastError, 'retried');
        for (const piece of pieces) piece.reject(error);
        return;
      }
      const timeoutMs = Math.min(this.#options.requestTimeoutMs, Math.ceil(remainingMs));
      try {
        const baseOffset = await this.#produce(queue, batch, timeoutMs);
        queue.lastError = undefined;
        let index = 0;
        for (const piece of pieces) {
          piece.resolve(baseOffset < 0 ? -1 : baseOffset + index);
          index += piece.inputs.length;
        }
        return;
      } catch (error) {
        // A wait cut short by the deadline says nothing new: the broker's last answer stays the cause.
        const cutShort = timeoutMs < this.#options.requestTimeoutMs && SluiceError.is(error) && error.code === 'SLUICE_ERR_TIMEOUT' && Date.now() >= deadline;
        if (!cutShort || lastError === undefined) lastError = error;
        queue.lastError = lastError;
        const retriable = SluiceError.is(error) && error.retriable && !this.#closed;
        if (!retriable || attempt >= this.#options.retries) {
          const failure = cutShort ? this.#deliveryTimeout(queue, records, lastError, 'retried') : this.#deliveryFailed(queue, records, error);
          for (const piece of pieces) piece.reject(failure);
          return;
        }
        // Capped low so a partition whose leader comes back (a failover) is tried again within a second.
        const backoffMs = Math.min(this.#options.retryBackoffMs * 2 ** Math.min(attempt, 30), this.#options.retryBackoffMaxMs);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(backoffMs, deadline - Date.now()))));
        // A failed refresh (no broker reachable yet) is the next attempt's problem, not this one's.
        if (isStaleMetadata(error)) await this.#metadata.refresh(undefined, queue.leaderId).catch(() => {});
      }
    }
  }

  async #produce(queue: PartitionQueue, batch: Buffer, timeoutMs: number): Promise<number> {
    const body = { acks: this.#options.acks, timeoutMs: this.#options.requestTimeoutMs, topics: [{ name: queue.topic, partitions: [{ partition: queue.partition, records: batch }] }] };
    const { connection, nodeId } = await this.#metadata.leader(queue.topic, queue.partition);
    queue.leaderId = nodeId;
    const connectTimeoutMs = Math.min(connection.options.connectTimeoutMs, leaderConnectTimeoutMs, timeoutMs);
    if (this.#options.acks === 0) {
      await connection.request<'produce'>(Api.PRODUCE, body, { noResponse: true, connectTimeoutMs });
      return -1;
    }
    const response = await connection.request<'produce'>(Api.PRODUCE, body, { timeoutMs, connectTimeoutMs });
    const result = response.topics[0]?.partitions[0];
    if (result === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', 'the broker answered a produce with no partition result');
    if (result.errorCode !== 0) throw errorFromWire(result.errorCode, result.errorMessage);
    return result.baseOffset;
  }

  /** Bytes of records queued or in flight, not yet acknowledged; at most bufferMemoryBytes. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Sends everything queued now and resolves when all of it is acknowledged. */
  async flush(): Promise<void> {
    for (const queue of this.#queues.values()) this.#drain(queue, true);
    if (this.#bufferedBytes === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Flushes, then refuses further sends. */
  /** Sends what is queued and waits for it; a transaction still open is aborted. */
  async close(): Promise<void> {
    if (this.#transactions !== undefined && this.#fatal === undefined) {
      await this.#transactions.abortOpen().catch((error: unknown) => {
        this.#logger.warn({ err: error, transactionalId: this.#options.transactionalId }, 'aborting the open transaction at close failed; the coordinator aborts it at its timeout');
      });
    }
    await this.flush();
    this.#closed = true;
  }
}
