/**
 * The producer: records are grouped per partition into RecordBatch v2 batches (up to
 * `batchSize` bytes, or after `lingerMs`), optionally LZ4-compressed, and sent with the chosen
 * `acks`. One batch per partition is in flight at a time, so retries of retriable errors never
 * reorder a partition. Buffered bytes are bounded by `bufferMemoryBytes`: past it, `send()`
 * waits until earlier records are acknowledged (backpressure).
 *
 * Each partition's batches go to its leader. An answer that says the client's metadata is
 * stale (another leader, a fenced epoch, too few in-sync replicas, a lost connection) makes
 * the producer refresh metadata before the retry, which then goes wherever the leader is now;
 * the partition's later batches wait behind the retried one, so its order holds.
 *
 * Every record has one delivery deadline, `deliveryTimeoutMs` after its send() (Kafka's
 * delivery.timeout.ms): retries of a batch stop once its oldest record passes it, and records
 * still queued behind a batch fail at their own deadline rather than waiting for their turn,
 * so a broker that cannot store is reported within the timeout, not after one full retry
 * cycle per queued batch.
 */
import { errorFromWire, SluiceError } from '../proto/errors.js';
import { isStaleMetadata, leaderConnectTimeoutMs, type MetadataCache } from './metadata.js';
import { keyPartition, StickyPartitioner } from './partitioner.js';
import { Api } from '../proto/messages.js';
import { compressionTypes, isCompression } from '../proto/record-batch/compression.js';
import { buildRecordBatch, type Compression, type RecordInput } from '../proto/record-batch/record-batch.js';

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
}

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

export class Producer {
  readonly #metadata: MetadataCache;
  readonly #options: Required<Omit<ProducerOptions, 'acks'>> & { acks: 0 | 1 | -1 };
  readonly #sticky: StickyPartitioner;
  readonly #queues = new Map<string, PartitionQueue>();
  readonly #memoryWaiters: Array<() => void> = [];
  #bufferedBytes = 0;
  #sendChain: Promise<void> = Promise.resolve();
  #idleWaiters: Array<() => void> = [];
  #closed = false;

  constructor(metadata: MetadataCache, options: ProducerOptions = {}) {
    this.#metadata = metadata;
    const acks = options.acks === 'all' ? -1 : options.acks ?? -1;
    this.#options = {
      lingerMs: 5, batchSize: 16384, compression: 'none', retries: Number.MAX_SAFE_INTEGER, retryBackoffMs: 100, retryBackoffMaxMs: 1000,
      bufferMemoryBytes: 32 * 1024 * 1024, requestTimeoutMs: 30_000, deliveryTimeoutMs: 120_000, ...options, acks,
    };
    if (!isCompression(this.#options.compression)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `compression must be one of ${compressionTypes.join(', ')}, got ${JSON.stringify(this.#options.compression)}`);
    }
    if (!(this.#options.deliveryTimeoutMs > 0)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `deliveryTimeoutMs must be a positive number of milliseconds, got ${this.#options.deliveryTimeoutMs}`);
    }
    this.#sticky = new StickyPartitioner(this.#options.batchSize);
  }

  /**
   * Queues the messages; resolves with where each landed once the broker acknowledged it.
   * Calls are queued in the order they are made, so concurrent sends keep their order within
   * every partition.
   */
  send(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }): Promise<RecordMetadata[]> {
    const deadline = Date.now() + this.#options.deliveryTimeoutMs;
    const enqueued = this.#sendChain.then(() => this.#enqueueAll(request, deadline));
    this.#sendChain = enqueued.then(() => {}, () => {});
    return enqueued.then(({ acknowledged }) => acknowledged);
  }

  /** Queues every message; resolves once they are queued, with a promise of their acknowledgements. */
  async #enqueueAll(request: { topic: string; messages: ProducerRecord[]; signal?: AbortSignal }, deadline: number): Promise<{ acknowledged: Promise<RecordMetadata[]> }> {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_ABORTED', 'the producer is closed');
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
      queue = { topic, partition, pieces: [], bytes: 0, inflight: false, timer: undefined, expiry: undefined, lastError: undefined, leaderId: -1 };
      this.#queues.set(id, queue);
    }
    queue.pieces.push(piece);
    queue.bytes += piece.bytes;
    this.#scheduleExpiry(queue);
    if (queue.bytes >= this.#options.batchSize || this.#options.lingerMs === 0) this.#drain(queue);
    else queue.timer ??= setTimeout(() => this.#drain(queue), this.#options.lingerMs);
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

  #drain(queue: PartitionQueue): void {
    clearTimeout(queue.timer);
    queue.timer = undefined;
    this.#expire(queue);
    if (queue.inflight || queue.pieces.length === 0) return;
    let bytes = 0;
    let count = 0;
    while (count < queue.pieces.length && (count === 0 || bytes + queue.pieces[count]!.bytes <= this.#options.batchSize)) {
      bytes += queue.pieces[count]!.bytes;
      count += 1;
    }
    const pieces = queue.pieces.splice(0, count);
    queue.bytes -= bytes;
    queue.inflight = true;
    void this.#sendBatch(queue, pieces).finally(() => {
      queue.inflight = false;
      this.#release(bytes);
      if (queue.pieces.length > 0) this.#drain(queue);
    });
  }

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
    for (const queue of this.#queues.values()) this.#drain(queue);
    if (this.#bufferedBytes === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Flushes, then refuses further sends. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
