/**
 * Which `__consumer_offsets` partition holds a group, computed exactly as Kafka does
 * (GroupCoordinatorService#partitionFor): abs(groupId.hashCode()) % partition count, with
 * Java's String.hashCode over UTF-16 code units and Kafka's Utils.abs, which maps MIN_INT to 0.
 * Being Kafka's formula, a group lands on the same partition number here as in a Kafka cluster
 * with the same partition count, which keeps tooling and expectations portable.
 */

/** Java's String.hashCode: h = 31·h + c over UTF-16 code units, wrapping at 32 bits. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index += 1) hash = (Math.imul(31, hash) + text.charCodeAt(index)) | 0;
  return hash;
}

/** Kafka's Utils.abs: Math.abs would leave MIN_INT negative. */
const kafkaAbs = (value: number) => (value === -0x80000000 ? 0 : Math.abs(value));

export function groupPartition(groupId: string, partitionCount: number): number {
  return kafkaAbs(javaStringHash(groupId)) % partitionCount;
}
