/**
 * A group's `__consumer_offsets` partition is Kafka's: abs(Java String.hashCode) % count.
 * The expected hashes are Java's (known values, and the formula worked out independently in
 * BigInt arithmetic with an explicit 32-bit wrap), so a group lands where Kafka puts it.
 */
import { describe, expect, it } from 'vitest';
import { groupPartition, javaStringHash } from '../../../../broker/groups/group-partition.js';

/** s[0]·31^(n−1) + … + s[n−1] over UTF-16 code units, reduced to a signed 32-bit int. */
function javaHashByDefinition(text: string): number {
  let sum = 0n;
  for (let index = 0; index < text.length; index += 1) sum = sum * 31n + BigInt(text.charCodeAt(index));
  return Number(BigInt.asIntN(32, sum));
}

describe('javaStringHash', () => {
  it('matches values Java gives', () => {
    expect(javaStringHash('')).toBe(0);
    expect(javaStringHash('a')).toBe(97);
    expect(javaStringHash('ab')).toBe(3105);
    expect(javaStringHash('hello')).toBe(99162322);
    expect(javaStringHash('group')).toBe(98629247);
    expect(javaStringHash('my-group')).toBe(-1906497762);
    expect(javaStringHash('console-consumer-1')).toBe(35782224);
    // The classic string whose hashCode is Integer.MIN_VALUE.
    expect(javaStringHash('polygenelubricants')).toBe(-0x80000000);
  });

  it('hashes UTF-16 code units, so a character outside the BMP counts as its two surrogates', () => {
    expect(javaStringHash('é')).toBe(233);
    expect(javaStringHash('😀')).toBe(0xd83d * 31 + 0xde00);
    for (const text of ['grüße-gruppe', '消费者组-7', 'emoji-😀-group', 'x'.repeat(255), `${'orders-consumer-'.repeat(15)}z`]) {
      expect(javaStringHash(text)).toBe(javaHashByDefinition(text));
    }
  });
});

describe('groupPartition', () => {
  it('is abs(hash) % count, as Kafka places groups', () => {
    expect(groupPartition('my-group', 50)).toBe(12);
    expect(groupPartition('console-consumer-1', 50)).toBe(24);
    expect(groupPartition('group', 50)).toBe(98629247 % 50);
    expect(groupPartition('消费者组-7', 7)).toBe(Math.abs(javaHashByDefinition('消费者组-7')) % 7);
  });

  it('puts a MIN_INT hash in partition 0 (Kafka\'s Utils.abs), never a negative partition', () => {
    expect(groupPartition('polygenelubricants', 50)).toBe(0);
    expect(groupPartition('polygenelubricants', 7)).toBe(0);
  });

  it('puts every group in partition 0 when there is one partition', () => {
    for (const group of ['', 'a', 'my-group', 'polygenelubricants', '😀']) expect(groupPartition(group, 1)).toBe(0);
  });
});
