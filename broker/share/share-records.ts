/**
 * The share-group records kept in the group's `__consumer_offsets` partition (compacted,
 * replicated, loaded by the coordinator when it gains the partition), next to the JSON offset
 * commits. Their keys start with a 0x00 byte, which no JSON key does, so the offset store
 * passes them by.
 *
 * - snapshot (group, topic, partition): a share-partition's whole state: SPSO, SPEO + 1, the
 *   states of the offsets between as runs, and the counters since it began.
 * - update (group, topic, partition, slot): the states of one range of offsets after a
 *   transition, with the SPSO, SPEO + 1 and counters of that moment and a sequence number. The slot is
 *   seq % updateSlots and a snapshot is written at least every updateSlots / 2 updates, so
 *   compaction (the last record per key) never drops an update newer than the last snapshot.
 * - configs (group): the group's config overrides.
 *
 * Bytes are untrusted on decode: every malformed input ends in CorruptRecordError.
 */
import { CorruptRecordError } from '../../proto/errors.js';
import { ByteReader } from '../../proto/record-batch/reader.js';
import { varlongSize, writeVarlong } from '../../proto/record-batch/varint.js';

export const updateSlots = 1024;

export const RecordState = { available: 0, acquired: 1, delayed: 2, acked: 3, deadLettering: 4, dead: 5, gap: 6 } as const;
export type RecordStateValue = (typeof RecordState)[keyof typeof RecordState];

export const deadReasons = ['', 'rejected', 'delivery_limit', 'expired'] as const;
export type DeadReason = 'rejected' | 'delivery_limit' | 'expired';
export const reasonCode = (reason: DeadReason): number => deadReasons.indexOf(reason);

/** Offsets first..last (inclusive) all in one state, with one delivery count. */
export interface StateRun {
  first: number;
  last: number;
  state: RecordStateValue;
  deliveryCount: number;
  /** Dead-lettering and dead: reasonCode of why; else 0. */
  reason: number;
  /** Delayed: when the records are available again (epoch ms); else 0. */
  until: number;
}

/** Totals since the share-partition began. */
export interface ShareCounters {
  acknowledged: number;
  rejected: number;
  deliveryLimit: number;
  expired: number;
  /** Dead records without a DLQ topic: dropped, and counted here as well as by reason. */
  dropped: number;
  skipped: number;
  redelivered: number;
}
export const counterNames: ReadonlyArray<keyof ShareCounters> = ['acknowledged', 'rejected', 'deliveryLimit', 'expired', 'dropped', 'skipped', 'redelivered'];
export const zeroCounters = (): ShareCounters => ({ acknowledged: 0, rejected: 0, deliveryLimit: 0, expired: 0, dropped: 0, skipped: 0, redelivered: 0 });

export interface ShareStateValue {
  seq: number;
  start: number;
  end: number;
  runs: StateRun[];
  /** As of this record (absolute, so replay needs no offsets below start to count them). */
  counters: ShareCounters;
}

export type ShareKey =
  | { kind: 'snapshot'; group: string; topic: string; partition: number }
  | { kind: 'update'; group: string; topic: string; partition: number; slot: number }
  | { kind: 'configs'; group: string };

const kindCodes = { snapshot: 1, update: 2, configs: 3 } as const;
const valueVersion = 1;

/** A growable byte writer for the varint layouts below. */
class Writer {
  #buffer = Buffer.alloc(64);
  #position = 0;

  #room(bytes: number): void {
    if (this.#position + bytes <= this.#buffer.length) return;
    const grown = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#position + bytes));
    this.#buffer.copy(grown, 0, 0, this.#position);
    this.#buffer = grown;
  }

  byte(value: number): this {
    this.#room(1);
    this.#buffer[this.#position++] = value;
    return this;
  }

  long(value: number): this {
    this.#room(varlongSize(value));
    this.#position = writeVarlong(this.#buffer, this.#position, value);
    return this;
  }

  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    this.long(bytes.length);
    this.#room(bytes.length);
    this.#position += bytes.copy(this.#buffer, this.#position);
    return this;
  }

  done(): Buffer {
    return this.#buffer.subarray(0, this.#position);
  }
}

function readString(reader: ByteReader, what: string): string {
  const length = reader.varlong();
  if (length < 0 || length > reader.remaining) throw new CorruptRecordError(`share record ${what} declares ${length} bytes, ${reader.remaining} left`);
  return reader.bytes(length, what).toString('utf8');
}

function readCount(reader: ByteReader, what: string, max: number): number {
  const value = reader.varlong();
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new CorruptRecordError(`share record ${what} is ${value}, outside 0..${max}`);
  return value;
}

function readByte(reader: ByteReader, what: string, max: number): number {
  const value = reader.int8();
  if (value < 0 || value > max) throw new CorruptRecordError(`share record ${what} is ${value}, outside 0..${max}`);
  return value;
}

/** Whether a `__consumer_offsets` key is a share record (JSON keys start with '{'). */
export const isShareKey = (key: Buffer | null): key is Buffer => key !== null && key.length > 1 && key[0] === 0;

export function encodeShareKey(key: ShareKey): Buffer {
  const writer = new Writer().byte(0).byte(kindCodes[key.kind]).string(key.group);
  if (key.kind !== 'configs') writer.string(key.topic).long(key.partition);
  if (key.kind === 'update') writer.long(key.slot);
  return writer.done();
}

export function decodeShareKey(bytes: Buffer): ShareKey {
  const reader = new ByteReader(bytes);
  if (readByte(reader, 'marker', 0) !== 0) throw new CorruptRecordError('share record key does not start with 0');
  const kind = readByte(reader, 'key kind', 3);
  const group = readString(reader, 'group');
  let key: ShareKey;
  if (kind === kindCodes.configs) key = { kind: 'configs', group };
  else {
    const topic = readString(reader, 'topic');
    const partition = readCount(reader, 'partition', 0x7fffffff);
    if (kind === kindCodes.snapshot) key = { kind: 'snapshot', group, topic, partition };
    else if (kind === kindCodes.update) key = { kind: 'update', group, topic, partition, slot: readCount(reader, 'slot', updateSlots - 1) };
    else throw new CorruptRecordError(`share record key kind ${kind} is unknown`);
  }
  if (reader.remaining !== 0) throw new CorruptRecordError(`${reader.remaining} bytes follow a share record key`);
  return key;
}

export function encodeStateValue(value: ShareStateValue): Buffer {
  const writer = new Writer().byte(valueVersion).long(value.seq).long(value.start).long(value.end).long(value.runs.length);
  for (const run of value.runs) {
    writer.long(run.first - value.start).long(run.last - run.first).byte(run.state).byte(run.deliveryCount).byte(run.reason);
    if (run.state === RecordState.delayed) writer.long(run.until);
  }
  writer.long(counterNames.length);
  for (const name of counterNames) writer.long(value.counters[name]);
  return writer.done();
}

const offsetMax = 2 ** 53 - 1;

export function decodeStateValue(bytes: Buffer): ShareStateValue {
  const reader = new ByteReader(bytes);
  const version = readByte(reader, 'version', 127);
  if (version !== valueVersion) throw new CorruptRecordError(`share state version ${version} is unknown`);
  const seq = readCount(reader, 'sequence', offsetMax);
  const start = readCount(reader, 'start offset', offsetMax);
  const end = readCount(reader, 'end offset', offsetMax);
  if (end < start) throw new CorruptRecordError(`share state end ${end} is below its start ${start}`);
  // Each run takes at least 5 bytes: a larger count cannot be honest.
  const runCount = readCount(reader, 'run count', Math.floor(reader.remaining / 5));
  const runs: StateRun[] = [];
  for (let index = 0; index < runCount; index += 1) {
    const first = start + readCount(reader, 'run start', end - start);
    const last = first + readCount(reader, 'run length', end - first - 1);
    const state = readByte(reader, 'state', RecordState.gap) as RecordStateValue;
    const deliveryCount = readByte(reader, 'delivery count', 127);
    const reason = readByte(reader, 'reason', deadReasons.length - 1);
    const until = state === RecordState.delayed ? readCount(reader, 'delay', offsetMax) : 0;
    runs.push({ first, last, state, deliveryCount, reason, until });
  }
  // Later versions may add counters: the known ones come first.
  const count = readCount(reader, 'counter count', 64);
  if (count < counterNames.length) throw new CorruptRecordError(`share state has ${count} counters, needs ${counterNames.length}`);
  const counters = zeroCounters();
  for (let index = 0; index < count; index += 1) {
    const value = readCount(reader, 'counter', offsetMax);
    const name = counterNames[index];
    if (name !== undefined) counters[name] = value;
  }
  if (reader.remaining !== 0) throw new CorruptRecordError(`${reader.remaining} bytes follow a share state value`);
  return { seq, start, end, runs, counters };
}

export function encodeConfigsValue(configs: Readonly<Record<string, string>>): Buffer {
  const entries = Object.entries(configs);
  const writer = new Writer().byte(valueVersion).long(entries.length);
  for (const [key, value] of entries) writer.string(key).string(value);
  return writer.done();
}

export function decodeConfigsValue(bytes: Buffer): Record<string, string> {
  const reader = new ByteReader(bytes);
  const version = readByte(reader, 'version', 127);
  if (version !== valueVersion) throw new CorruptRecordError(`group configs version ${version} is unknown`);
  const count = readCount(reader, 'config count', Math.floor(reader.remaining / 2));
  const configs: Record<string, string> = {};
  for (let index = 0; index < count; index += 1) {
    const key = readString(reader, 'config key');
    configs[key] = readString(reader, 'config value');
  }
  if (reader.remaining !== 0) throw new CorruptRecordError(`${reader.remaining} bytes follow group configs`);
  return configs;
}
