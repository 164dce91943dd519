import { describe, expect, it } from 'vitest';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';
import { stateBatchSlices } from '../../../../broker/share/share-state-log.js';

describe('share-state batches', () => {
  it('cut a turn of large snapshots into batches under __consumer_offsets max.message.bytes', () => {
    // 100 fragmented windows' snapshots in one turn: ~3.3 MB, as a 1M-record bench produced.
    const records = Array.from({ length: 100 }, (_, index) => ({ key: Buffer.from(`snapshot-${index}`), value: Buffer.alloc(33_000, index) }));
    const slices = stateBatchSlices(records);
    expect(slices.flat()).toEqual(records);
    for (const slice of slices) expect(buildRecordBatch(slice).length).toBeLessThan(1024 * 1024);
    expect(slices.length).toBeGreaterThan(3);
  });

  it('keep small records together up to 2000 a batch, and a lone large record on its own', () => {
    const small = Array.from({ length: 4500 }, () => ({ key: Buffer.from('k'), value: Buffer.from('v') }));
    expect(stateBatchSlices(small).map((slice) => slice.length)).toEqual([2000, 2000, 500]);
    const large = { key: null, value: Buffer.alloc(600 * 1024) };
    expect(stateBatchSlices([small[0]!, large, small[1]!]).map((slice) => slice.length)).toEqual([1, 1, 1]);
  });
});
