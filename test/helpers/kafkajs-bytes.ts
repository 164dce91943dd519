/**
 * The group bytes KafkaJS writes and how it reads them (its src/consumer/assignerProtocol.js,
 * written here from the layout, not from its code), for tests where a member plays a KafkaJS
 * consumer: it announces version 1 but writes only the version 0 fields, with an empty (not
 * null) userData, and reads version, topics or assignment, and userData — nothing after.
 */

function int16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeInt16BE(value);
  return buffer;
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

const string = (value: string) => [int16(Buffer.byteLength(value)), Buffer.from(value)];

/** KafkaJS's JoinGroup metadata (MemberMetadata.encode, version 1). */
export function kafkajsSubscription(topics: string[]): Buffer {
  return Buffer.concat([int16(1), int32(topics.length), ...topics.flatMap(string), int32(0)]);
}

/** KafkaJS's SyncGroup assignment (MemberAssignment.encode, version 1). */
export function kafkajsAssignment(assignment: Record<string, number[]>): Buffer {
  const topics = Object.entries(assignment).flatMap(([topic, partitions]) => [...string(topic), int32(partitions.length), ...partitions.map(int32)]);
  return Buffer.concat([int16(1), int32(Object.keys(assignment).length), ...topics, int32(0)]);
}

class KafkajsReader {
  at = 2;
  constructor(readonly bytes: Buffer) {}
  int32(): number {
    this.at += 4;
    return this.bytes.readInt32BE(this.at - 4);
  }
  string(): string {
    const length = this.bytes.readInt16BE(this.at);
    this.at += 2 + length;
    return this.bytes.toString('utf8', this.at - length, this.at);
  }
}

/** The topics KafkaJS's leader reads from a member's metadata (MemberMetadata.decode). */
export function readAsKafkajsSubscription(bytes: Buffer): string[] {
  const reader = new KafkajsReader(bytes);
  return Array.from({ length: reader.int32() }, () => reader.string());
}

/** What KafkaJS's member reads from its assignment (MemberAssignment.decode): topic → partitions. */
export function readAsKafkajsAssignment(bytes: Buffer): Record<string, number[]> {
  const reader = new KafkajsReader(bytes);
  const result: Record<string, number[]> = {};
  for (let topics = reader.int32(); topics > 0; topics -= 1) {
    const topic = reader.string();
    result[topic] = Array.from({ length: reader.int32() }, () => reader.int32());
  }
  const userData = reader.int32();
  if (reader.at + Math.max(0, userData) > bytes.length) throw new Error('the assignment ends inside its userData');
  return result;
}
