/**
 * Transactions in a partition log: transactional batches open a producer's transaction, commit
 * and abort markers (Log.appendTxnMarker, what WriteTxnMarkers calls) close it; the last stable
 * offset and the aborted list (.txnindex) follow, across a clean restart, a crash, a truncation
 * and a follower replicating the same bytes. Also the .txnindex file format on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Log } from '../../../../broker/storage/log.js';
import { decodeAbortedTxns, encodeAbortedTxn, TxnIndex } from '../../../../broker/storage/txn-index.js';
import { SluiceError } from '../../../../proto/errors.js';
import { eachBatch } from '../../../../proto/record-batch/batch-iterator.js';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';
import { tempLogs } from '../../../helpers/temp-logs.js';

const { tempDirectory, open } = tempLogs('sluice-txn-');

function txnBatch(producerId: number, baseSequence: number, records = 2, epoch = 0): Buffer {
  return buildRecordBatch(
    Array.from({ length: records }, (_, index) => ({ key: null, value: Buffer.from(`${producerId}:${baseSequence + index}`) })),
    { producerId, producerEpoch: epoch, baseSequence, transactional: true },
  );
}

const plain = () => buildRecordBatch([{ key: null, value: Buffer.from('plain') }]);
const marker = (producerId: number, committed: boolean, coordinatorEpoch = 0, producerEpoch = 0) => ({ producerId, producerEpoch, committed, coordinatorEpoch });

/** The log's state as a read_committed reader sees it (the high watermark is the log end here). */
function view(log: Log) {
  return { lso: log.stableBelow(log.logEndOffset), aborted: log.abortedTransactions(0, log.logEndOffset).map((entry) => [entry.producerId, entry.firstOffset]) };
}

/** Offsets 0-1 A(txn), 2 plain, 3-4 B(txn), 5-6 A, 7 COMMIT A, 8 ABORT B. */
function writeTwoTransactions(log: Log): void {
  log.append(txnBatch(1, 0));
  expect(view(log).lso).toBe(0);
  log.append(plain());
  log.append(txnBatch(2, 0));
  log.append(txnBatch(1, 2));
  expect(view(log)).toEqual({ lso: 0, aborted: [] });
  expect(log.appendTxnMarker(marker(1, true), 0).baseOffset).toBe(7);
  expect(view(log)).toEqual({ lso: 3, aborted: [] });
  expect(log.appendTxnMarker(marker(2, false), 0).baseOffset).toBe(8);
  expect(view(log)).toEqual({ lso: 9, aborted: [[2, 3]] });
}

describe('transaction markers in the log', () => {
  it('moves the last stable offset and lists aborted transactions', () => {
    const log = open(tempDirectory());
    writeTwoTransactions(log);
    // The log's own LSO is bounded by the high watermark it was given (a partition gives it).
    log.highWatermark = 8;
    expect(log.lastStableOffset).toBe(8);
    log.highWatermark = 9;
    expect(log.lastStableOffset).toBe(9);
    // Ranges: the aborted transaction overlaps [4, 6) and [8, 9), not [0, 3) and not past its marker.
    expect(log.abortedTransactions(4, 6)).toHaveLength(1);
    expect(log.abortedTransactions(0, 3)).toHaveLength(0);
    expect(log.abortedTransactions(9, 9)).toHaveLength(0);
    expect(log.producerState.get(2)?.txnFirstOffset).toBe(-1);
  });

  it('refuses markers from an older coordinator or producer epoch', () => {
    const log = open(tempDirectory());
    log.append(txnBatch(1, 0, 2, 3));
    log.appendTxnMarker(marker(1, false, 5, 3), 0);
    const code = (action: () => unknown) => {
      try {
        action();
      } catch (error) {
        return SluiceError.is(error) ? error.code : 'other';
      }
      return 'none';
    };
    expect(code(() => log.appendTxnMarker(marker(1, true, 4, 3), 0))).toBe('SLUICE_ERR_TRANSACTION_COORDINATOR_FENCED');
    expect(code(() => log.appendTxnMarker(marker(1, true, 5, 2), 0))).toBe('SLUICE_ERR_INVALID_PRODUCER_EPOCH');
    // A marker for a producer with nothing open ends nothing, and is still written.
    expect(code(() => log.appendTxnMarker(marker(1, true, 5, 3), 0))).toBe('none');
    expect(log.logEndOffset).toBe(4);
  });

  it('keeps the LSO and aborted list across a clean restart, a crash, and with no snapshot', () => {
    const directory = tempDirectory();
    const log = open(directory);
    log.append(txnBatch(1, 0));
    log.roll();
    log.append(plain());
    log.append(txnBatch(2, 0));
    log.append(txnBatch(1, 2));
    log.appendTxnMarker(marker(1, true), 0);
    log.appendTxnMarker(marker(2, false), 0);
    log.append(txnBatch(3, 0));
    const expected = { lso: 9, aborted: [[2, 3]] };
    expect(view(log)).toEqual(expected);
    const crashed = tempDirectory();
    fs.cpSync(directory, crashed, { recursive: true });
    // Lose the .txnindex too: recovery replays from the snapshot at the roll and rebuilds it.
    for (const name of fs.readdirSync(crashed)) if (name.endsWith('.txnindex')) fs.rmSync(path.join(crashed, name));
    expect(view(open(crashed))).toEqual(expected);
    log.close();
    const reopened = open(directory);
    expect(view(reopened)).toEqual(expected);
    reopened.close();
    for (const name of fs.readdirSync(directory)) if (name.endsWith('.snapshot')) fs.rmSync(path.join(directory, name));
    expect(view(open(directory))).toEqual(expected);
  });

  it('undoes markers cut by a truncation', () => {
    const log = open(tempDirectory());
    writeTwoTransactions(log);
    log.truncateTo(8);
    expect(view(log)).toEqual({ lso: 3, aborted: [] });
    log.truncateTo(7);
    expect(view(log)).toEqual({ lso: 0, aborted: [] });
    log.appendTxnMarker(marker(1, false), 0);
    expect(view(log)).toEqual({ lso: 3, aborted: [[1, 0]] });
  });

  it('forgets an abort past a cut that lands on the snapshot written at close', () => {
    const directory = tempDirectory();
    const first = open(directory);
    first.append(plain());
    first.close();
    const log = open(directory);
    log.append(txnBatch(1, 0));
    log.appendTxnMarker(marker(1, false), 0);
    expect(view(log).aborted).toEqual([[1, 1]]);
    log.truncateTo(1);
    for (let count = 0; count < 3; count += 1) log.append(plain());
    expect(view(log)).toEqual({ lso: 4, aborted: [] });
    log.close();
    expect(view(open(directory)).aborted).toEqual([]);
  });

  it('gives a follower appending the same bytes the same state', () => {
    const leader = open(tempDirectory());
    writeTwoTransactions(leader);
    const follower = open(tempDirectory());
    for (const slice of leader.read(0, 1 << 20).slices) {
      for (const { position, size } of eachBatch(slice)) follower.append(Buffer.from(slice.subarray(position, position + size)), { assignOffsets: false });
    }
    expect(view(follower)).toEqual(view(leader));
    // All but lastTimestamp, which each replica takes from its own clock.
    expect({ ...follower.producerState.get(1), lastTimestamp: 0 }).toEqual({ ...leader.producerState.get(1), lastTimestamp: 0 });
  });

  it('drops an aborted transaction with its segment', () => {
    const directory = tempDirectory();
    const log = open(directory);
    writeTwoTransactions(log);
    log.roll();
    expect(fs.readdirSync(directory)).toContain('00000000000000000000.txnindex');
    log.append(plain());
    log.deleteRecordsBefore(9);
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.txnindex'))).toEqual([]);
    expect(log.abortedTransactions(9, 10)).toEqual([]);
  });
});

describe('.txnindex', () => {
  it('round-trips entries, drops a torn tail, truncates and collects by range', () => {
    const entries = [
      { producerId: 1, firstOffset: 0, lastOffset: 10, lastStableOffset: 5 },
      { producerId: 2 ** 45, firstOffset: 5, lastOffset: 20, lastStableOffset: 21 },
    ];
    const bytes = Buffer.concat(entries.map(encodeAbortedTxn));
    expect(bytes.length).toBe(68);
    expect(decodeAbortedTxns(bytes)).toEqual(entries);
    const file = path.join(tempDirectory(), '00000000000000000000.txnindex');
    fs.writeFileSync(file, bytes.subarray(0, 50));
    const index = new TxnIndex(file);
    expect(index.entries).toEqual([entries[0]]);
    expect(fs.statSync(file).size).toBe(34);
    index.append(entries[1]!);
    expect(new TxnIndex(file).entries).toEqual(entries);
    const found: typeof entries = [];
    expect(index.collect(11, 30, found)).toBe(false);
    expect(found).toEqual([entries[1]]);
    expect(index.collect(0, 4, [])).toBe(true);
    index.truncateFrom(20);
    expect(new TxnIndex(file).entries).toEqual([entries[0]]);
    index.truncateFrom(0);
    expect(fs.existsSync(file)).toBe(false);
  });
});
