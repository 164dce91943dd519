/** The transaction state table: Kafka's allowed moves, and nothing else. */
import { describe, expect, it } from 'vitest';
import { canMove, checkMove, isIdle, isPreparing, txnStateById, txnStateIds, txnStates } from '../../../../broker/transactions/txn-state.js';

describe('transaction states', () => {
  it('allows exactly Kafka\'s moves', () => {
    const allowed = txnStates.flatMap((from) => txnStates.filter((to) => canMove(from, to)).map((to) => `${from}->${to}`));
    expect(allowed.sort()).toEqual([
      'CompleteAbort->Dead', 'CompleteAbort->Empty', 'CompleteAbort->Ongoing',
      'CompleteCommit->Dead', 'CompleteCommit->Empty', 'CompleteCommit->Ongoing',
      'Empty->Dead', 'Empty->Empty', 'Empty->Ongoing',
      'Ongoing->Ongoing', 'Ongoing->PrepareAbort', 'Ongoing->PrepareCommit', 'Ongoing->PrepareEpochFence',
      'PrepareAbort->CompleteAbort', 'PrepareCommit->CompleteCommit', 'PrepareEpochFence->PrepareAbort',
    ]);
  });

  it('refuses other moves with INVALID_TXN_STATE', () => {
    expect(() => checkMove('t', 'Empty', 'PrepareCommit')).toThrow(/cannot go from Empty to PrepareCommit/);
    expect(() => checkMove('t', 'PrepareCommit', 'CompleteAbort')).toThrow(/INVALID_TXN_STATE|cannot go/);
    expect(() => checkMove('t', 'Ongoing', 'PrepareCommit')).not.toThrow();
  });

  it('numbers states as Kafka does and classifies them', () => {
    for (const state of txnStates) expect(txnStateById(txnStateIds[state])).toBe(state);
    expect(txnStateById(8)).toBeUndefined();
    expect(txnStates.filter(isPreparing)).toEqual(['PrepareCommit', 'PrepareAbort', 'PrepareEpochFence']);
    expect(txnStates.filter(isIdle)).toEqual(['Empty', 'CompleteCommit', 'CompleteAbort']);
  });
});
