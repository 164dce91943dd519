/**
 * Kafka's ConsumerProtocol: the subscription a consumer puts in JoinGroup's protocol metadata
 * and the assignment the group leader hands out through SyncGroup (protocol type "consumer").
 * The broker passes these bytes through untouched; every member of a group must read what the
 * others write, so Sluice clients use Kafka's layout and a group can mix Kafka and Sluice
 * clients.
 *
 * Layout (classic, non-flexible encoding; int16 version first, big-endian):
 *
 *   Subscription v0–3: version int16, topics [string], userData nullable bytes,
 *     ownedPartitions [{ topic string, partitions [int32] }] (v1+), generationId int32 (v2+),
 *     rackId nullable string (v3+)
 *   Assignment v0–3: version int16, assignedPartitions [{ topic string, partitions [int32] }],
 *     userData nullable bytes (the same fields in every version)
 *
 * string = int16 length + UTF-8 (−1 = null, only where nullable); bytes = int32 length (−1 =
 * null); array = int32 count. Reading follows Kafka's rule for these two messages: a version
 * newer than 3 is read as version 3 (new versions only append fields) and bytes after the known
 * fields are ignored. One leniency more: a subscription that ends right where a v1+ field would
 * start leaves that field and the ones after it at their defaults — KafkaJS announces version 1
 * but writes only the v0 fields.
 *
 * A standalone codec on purpose: it is used by the client, which does not load the Kafka
 * listener's codec engine (proto/kafka/).
 */
import { SluiceError } from './errors.js';

/** The protocol type of consumer groups in JoinGroup. */
export const consumerProtocolType = 'consumer';

/** The newest versions this codec knows; it writes these unless told otherwise. */
export const subscriptionVersion = 3;
export const assignmentVersion = 3;

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface ConsumerSubscription {
  /** The version the writer declared (may be newer than 3). */
  version: number;
  topics: string[];
  userData: Buffer | null;
  ownedPartitions: TopicPartitions[];
  /** The generation the owned partitions were assigned in; −1 when unknown (before v2). */
  generationId: number;
  rackId: string | null;
}

export interface ConsumerAssignment {
  version: number;
  assignedPartitions: TopicPartitions[];
  userData: Buffer | null;
}

/** Bytes that are not a ConsumerProtocol document, or a document this codec cannot write. */
export class ConsumerProtocolError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CONSUMER_PROTOCOL', message);
    this.name = 'ConsumerProtocolError';
  }
}

const int16Max = 0x7fff;

class Writer {
  readonly #chunks: Buffer[] = [];

  int16(value: number): this {
    const chunk = Buffer.allocUnsafe(2);
    chunk.writeInt16BE(value);
    this.#chunks.push(chunk);
    return this;
  }

  int32(value: number): this {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new ConsumerProtocolError(`${value} is not an int32`);
    const chunk = Buffer.allocUnsafe(4);
    chunk.writeInt32BE(value);
    this.#chunks.push(chunk);
    return this;
  }

  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > int16Max) throw new ConsumerProtocolError(`a string of ${bytes.length} bytes is longer than the ${int16Max} an int16 length allows`);
    this.int16(bytes.length);
    this.#chunks.push(bytes);
    return this;
  }

  bytes(value: Buffer | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    this.#chunks.push(value);
    return this;
  }

  array<T>(items: readonly T[], write: (item: T) => void): this {
    this.int32(items.length);
    for (const item of items) write(item);
    return this;
  }

  topicPartitions(items: readonly TopicPartitions[]): this {
    return this.array(items, (entry) => {
      this.string(entry.topic);
      this.array(entry.partitions, (partition) => this.int32(partition));
    });
  }

  finish(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

class Reader {
  readonly #buffer: Buffer;
  readonly #what: string;
  #offset = 0;

  constructor(buffer: Buffer, what: string) {
    this.#buffer = buffer;
    this.#what = what;
  }

  get atEnd(): boolean {
    return this.#offset === this.#buffer.length;
  }

  #take(size: number, field: string): number {
    if (this.#buffer.length - this.#offset < size) {
      throw new ConsumerProtocolError(`${this.#what} ends inside ${field} (needs ${size} bytes at offset ${this.#offset}, ${this.#buffer.length - this.#offset} left)`);
    }
    const at = this.#offset;
    this.#offset += size;
    return at;
  }

  int16(field: string): number {
    return this.#buffer.readInt16BE(this.#take(2, field));
  }

  int32(field: string): number {
    return this.#buffer.readInt32BE(this.#take(4, field));
  }

  string(field: string): string {
    const value = this.nullableString(field);
    if (value === null) throw new ConsumerProtocolError(`${this.#what}: ${field} is null but may not be`);
    return value;
  }

  nullableString(field: string): string | null {
    const length = this.int16(field);
    if (length === -1) return null;
    if (length < 0) throw new ConsumerProtocolError(`${this.#what}: ${field} has length ${length}`);
    const at = this.#take(length, field);
    return this.#buffer.toString('utf8', at, at + length);
  }

  nullableBytes(field: string): Buffer | null {
    const length = this.int32(field);
    if (length === -1) return null;
    if (length < 0) throw new ConsumerProtocolError(`${this.#what}: ${field} has length ${length}`);
    const at = this.#take(length, field);
    return this.#buffer.subarray(at, at + length);
  }

  /** An array whose elements take at least `minSize` bytes each; a count the bytes left cannot hold is refused before anything is allocated. */
  array<T>(field: string, minSize: number, read: () => T): T[] {
    const count = this.int32(field);
    if (count < 0) throw new ConsumerProtocolError(`${this.#what}: ${field} has ${count} elements (null or negative arrays are not allowed here)`);
    if (count * minSize > this.#buffer.length - this.#offset) {
      throw new ConsumerProtocolError(`${this.#what}: ${field} claims ${count} elements but only ${this.#buffer.length - this.#offset} bytes are left`);
    }
    const items: T[] = [];
    for (let index = 0; index < count; index += 1) items.push(read());
    return items;
  }

  topicPartitions(field: string): TopicPartitions[] {
    return this.array(field, 6, () => ({
      topic: this.string(`${field} topic`),
      partitions: this.array(`${field} partitions`, 4, () => this.int32(`${field} partition`)),
    }));
  }
}

function checkVersion(version: number, max: number, what: string): void {
  if (!Number.isInteger(version) || version < 0 || version > max) throw new ConsumerProtocolError(`cannot write ${what} version ${version}; versions 0 to ${max} are known`);
}

function readVersion(reader: Reader, what: string): number {
  const version = reader.int16('version');
  if (version < 0) throw new ConsumerProtocolError(`${what} version ${version} is not a ConsumerProtocol version`);
  return version;
}

export function encodeSubscription(subscription: Partial<Omit<ConsumerSubscription, 'topics'>> & { topics: string[] }, version: number = subscriptionVersion): Buffer {
  checkVersion(version, subscriptionVersion, 'a subscription');
  const writer = new Writer();
  writer.int16(version).array(subscription.topics, (topic) => writer.string(topic)).bytes(subscription.userData ?? null);
  if (version >= 1) writer.topicPartitions(subscription.ownedPartitions ?? []);
  if (version >= 2) writer.int32(subscription.generationId ?? -1);
  if (version >= 3) writer.string(subscription.rackId ?? null);
  return writer.finish();
}

export function decodeSubscription(buffer: Buffer): ConsumerSubscription {
  const reader = new Reader(buffer, 'ConsumerProtocol subscription');
  const version = readVersion(reader, 'subscription');
  const subscription: ConsumerSubscription = {
    version,
    topics: reader.array('topics', 2, () => reader.string('topic')),
    userData: reader.nullableBytes('userData'),
    ownedPartitions: [],
    generationId: -1,
    rackId: null,
  };
  // Fields a version has, unless the bytes end before them (KafkaJS writes version 1 without ownedPartitions).
  if (version >= 1 && !reader.atEnd) subscription.ownedPartitions = reader.topicPartitions('ownedPartitions');
  if (version >= 2 && !reader.atEnd) subscription.generationId = reader.int32('generationId');
  if (version >= 3 && !reader.atEnd) subscription.rackId = reader.nullableString('rackId');
  return subscription;
}

export function encodeAssignment(assignment: Partial<Omit<ConsumerAssignment, 'assignedPartitions'>> & { assignedPartitions: TopicPartitions[] }, version: number = assignmentVersion): Buffer {
  checkVersion(version, assignmentVersion, 'an assignment');
  return new Writer().int16(version).topicPartitions(assignment.assignedPartitions).bytes(assignment.userData ?? null).finish();
}

export function decodeAssignment(buffer: Buffer): ConsumerAssignment {
  const reader = new Reader(buffer, 'ConsumerProtocol assignment');
  const version = readVersion(reader, 'assignment');
  return { version, assignedPartitions: reader.topicPartitions('assignedPartitions'), userData: reader.nullableBytes('userData') };
}

/** Partitions grouped per topic, in the order the topics first appear. */
export function byTopic(partitions: ReadonlyArray<{ topic: string; partition: number }>): TopicPartitions[] {
  const grouped = new Map<string, number[]>();
  for (const entry of partitions) {
    const list = grouped.get(entry.topic);
    if (list === undefined) grouped.set(entry.topic, [entry.partition]);
    else list.push(entry.partition);
  }
  return [...grouped].map(([topic, list]) => ({ topic, partitions: list }));
}

/** One entry per partition; a partition listed twice is kept once. */
export function flatten(entries: readonly TopicPartitions[]): Array<{ topic: string; partition: number }> {
  const seen = new Set<string>();
  const partitions: Array<{ topic: string; partition: number }> = [];
  for (const { topic, partitions: list } of entries) {
    for (const partition of list) {
      const key = `${topic}\u0000${partition}`;
      if (seen.has(key)) continue;
      seen.add(key);
      partitions.push({ topic, partition });
    }
  }
  return partitions;
}

/**
 * A group member's subscribed topics and assigned partitions, for people describing a group.
 * null where there is nothing readable: a group of another protocol type, or bytes that are not
 * ConsumerProtocol. An assignment not handed out yet (no bytes) is no partitions.
 */
export function describeConsumerMember(protocolType: string, metadata: Buffer, assignment: Buffer):
  { topics: string[] | null; partitions: Array<{ topic: string; partition: number }> | null } {
  if (protocolType !== consumerProtocolType) return { topics: null, partitions: null };
  const readable = <T>(read: () => T): T | null => {
    try {
      return read();
    } catch (error) {
      if (error instanceof ConsumerProtocolError) return null;
      throw error;
    }
  };
  return {
    topics: metadata.length === 0 ? null : readable(() => decodeSubscription(metadata).topics),
    partitions: assignment.length === 0 ? [] : readable(() => flatten(decodeAssignment(assignment).assignedPartitions)),
  };
}
