/**
 * The records of `__transaction_state`: key = the transactional id, value = its metadata after
 * a change (a null value, a tombstone, when an expired id is forgotten). Compaction keeps the
 * last record per id. The layout is Sluice's own, versioned by its first two bytes so that a
 * later layout can be read next to this one:
 *
 *   key   v0: int16 version=0, string transactionalId
 *   value v0: int16 version=0, int64 producerId, int64 lastProducerId, int16 producerEpoch,
 *             int16 lastProducerEpoch, int32 timeoutMs, int8 state, int32 topicCount,
 *             {string topic, int32 partitionCount, int32 partition…}…, int64 lastUpdateMs,
 *             int64 startMs
 *
 * Strings are int16 byte length + UTF-8 as in Kafka's own records. A record that does not
 * parse throws CORRUPT_MESSAGE; loading stops there rather than guess.
 */
import { SluiceError } from '../../proto/errors.js';
import { type TxnState, txnStateById, txnStateIds } from './txn-state.js';

export interface TxnPartition {
  topic: string;
  partition: number;
}

export interface TxnMetadata {
  transactionalId: string;
  producerId: number;
  /** The producer id before the last overflow of the epoch (-1 when none): a retried InitProducerId is recognised by it. */
  lastProducerId: number;
  producerEpoch: number;
  /** The epoch before the last bump (-1 when none). */
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** The partitions of the open (or completing) transaction, sorted by topic then partition. */
  partitions: TxnPartition[];
  lastUpdateMs: number;
  /** When the open transaction began (-1 when none is open). */
  startMs: number;
}

const keyVersion = 0;
const valueVersion = 0;

function corrupt(detail: string): SluiceError {
  return new SluiceError('SLUICE_ERR_CORRUPT_MESSAGE', `a __transaction_state record does not parse: ${detail}`);
}

class Writer {
  readonly parts: Buffer[] = [];
  int8(value: number): this { const b = Buffer.alloc(1); b.writeInt8(value); this.parts.push(b); return this; }
  int16(value: number): this { const b = Buffer.alloc(2); b.writeInt16BE(value); this.parts.push(b); return this; }
  int32(value: number): this { const b = Buffer.alloc(4); b.writeInt32BE(value); this.parts.push(b); return this; }
  int64(value: number): this { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(value)); this.parts.push(b); return this; }
  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0x7fff) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `a name of ${bytes.length} bytes is too long for __transaction_state (at most 32767)`);
    return this.int16(bytes.length).bytes(bytes);
  }
  bytes(value: Buffer): this { this.parts.push(value); return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

class Reader {
  #position = 0;
  constructor(readonly buffer: Buffer) {}
  #need(size: number): number {
    if (size < 0 || this.#position + size > this.buffer.length) throw corrupt(`${size} bytes needed at byte ${this.#position} of ${this.buffer.length}`);
    const at = this.#position;
    this.#position += size;
    return at;
  }
  int8(): number { return this.buffer.readInt8(this.#need(1)); }
  int16(): number { return this.buffer.readInt16BE(this.#need(2)); }
  int32(): number { return this.buffer.readInt32BE(this.#need(4)); }
  int64(): number {
    const value = this.buffer.readBigInt64BE(this.#need(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw corrupt(`int64 ${value} out of range`);
    return Number(value);
  }
  string(): string {
    const length = this.int16();
    const at = this.#need(length);
    return this.buffer.toString('utf8', at, at + length);
  }
  end(): void {
    if (this.#position !== this.buffer.length) throw corrupt(`${this.buffer.length - this.#position} bytes left over`);
  }
}

export function encodeTxnKey(transactionalId: string): Buffer {
  return new Writer().int16(keyVersion).string(transactionalId).done();
}

export function decodeTxnKey(key: Buffer): string {
  const reader = new Reader(key);
  const version = reader.int16();
  if (version !== keyVersion) throw corrupt(`key version ${version}`);
  const id = reader.string();
  reader.end();
  return id;
}

export function encodeTxnValue(metadata: TxnMetadata): Buffer {
  const writer = new Writer().int16(valueVersion)
    .int64(metadata.producerId).int64(metadata.lastProducerId)
    .int16(metadata.producerEpoch).int16(metadata.lastProducerEpoch)
    .int32(metadata.timeoutMs).int8(txnStateIds[metadata.state]);
  const byTopic = groupByTopic(metadata.partitions);
  writer.int32(byTopic.length);
  for (const { topic, partitions } of byTopic) {
    writer.string(topic).int32(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
  return writer.int64(metadata.lastUpdateMs).int64(metadata.startMs).done();
}

export function decodeTxnValue(transactionalId: string, value: Buffer): TxnMetadata {
  const reader = new Reader(value);
  const version = reader.int16();
  if (version !== valueVersion) throw corrupt(`value version ${version}`);
  const producerId = reader.int64();
  const lastProducerId = reader.int64();
  const producerEpoch = reader.int16();
  const lastProducerEpoch = reader.int16();
  const timeoutMs = reader.int32();
  const stateId = reader.int8();
  const state = txnStateById(stateId);
  if (state === undefined) throw corrupt(`state ${stateId}`);
  const topicCount = reader.int32();
  if (topicCount < 0 || topicCount > value.length) throw corrupt(`topic count ${topicCount}`);
  const partitions: TxnPartition[] = [];
  for (let index = 0; index < topicCount; index += 1) {
    const topic = reader.string();
    const count = reader.int32();
    if (count < 0 || count > value.length) throw corrupt(`partition count ${count}`);
    for (let at = 0; at < count; at += 1) partitions.push({ topic, partition: reader.int32() });
  }
  const lastUpdateMs = reader.int64();
  const startMs = reader.int64();
  reader.end();
  return { transactionalId, producerId, lastProducerId, producerEpoch, lastProducerEpoch, timeoutMs, state, partitions: sortPartitions(partitions), lastUpdateMs, startMs };
}

export function sortPartitions(partitions: TxnPartition[]): TxnPartition[] {
  return [...partitions].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

/** Partitions grouped per topic, topics and partitions in order. */
export function groupByTopic(partitions: readonly TxnPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of sortPartitions([...partitions])) {
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
}
