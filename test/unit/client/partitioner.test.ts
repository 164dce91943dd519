import { describe, expect, it } from 'vitest';
import { keyPartition, murmur2, StickyPartitioner } from '../../../client/partitioner.js';

describe('murmur2 partitioner', () => {
  it('matches the Java client on its test vectors', () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
      ['', 275646681],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('puts keys where Kafka puts them', () => {
    expect(keyPartition(Buffer.from('foobar'), 6)).toBe(0);
    expect(keyPartition(Buffer.from('abc'), 6)).toBe(3);
    expect(keyPartition(Buffer.from('a-little-bit-longer-string'), 6)).toBe(5);
  });

  it('sticks null keys to one partition for about a batch, then moves', () => {
    const sticky = new StickyPartitioner(1000);
    const first = sticky.partition('t', 6, 100);
    for (let index = 0; index < 9; index += 1) expect(sticky.partition('t', 6, 100)).toBe(first);
    expect(sticky.partition('t', 6, 100)).not.toBe(first);
  });
});
