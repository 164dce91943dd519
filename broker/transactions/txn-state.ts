/**
 * A transactional id's states and the moves between them, as Kafka's coordinator has them
 * (TransactionState.scala): Empty → Ongoing (first AddPartitions/AddOffsets) → PrepareCommit or
 * PrepareAbort (EndTxn, written before the answer) → CompleteCommit or CompleteAbort (once every
 * partition has its marker) → Ongoing again for the next transaction. Dead is an expired id
 * about to be forgotten. PrepareEpochFence is Kafka's in-memory step of fencing an Ongoing
 * transaction (epoch bumped, then PrepareAbort); Sluice's coordinator writes PrepareAbort with
 * the bumped epoch in one step, so it never enters it, but keeps it for Kafka's numbering and
 * names (DescribeTransactions, ListTransactions filters).
 */
import { SluiceError } from '../../proto/errors.js';

export const txnStates = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence'] as const;
export type TxnState = (typeof txnStates)[number];

/** Each state's number in the __transaction_state record (Kafka's TransactionState ids). */
export const txnStateIds: Readonly<Record<TxnState, number>> = {
  Empty: 0, Ongoing: 1, PrepareCommit: 2, PrepareAbort: 3, CompleteCommit: 4, CompleteAbort: 5, Dead: 6, PrepareEpochFence: 7,
};

export function txnStateById(id: number): TxnState | undefined {
  return txnStates.find((state) => txnStateIds[state] === id);
}

/** Which states each state may be entered from (Kafka's validPreviousStates). */
const validPrevious: Readonly<Record<TxnState, readonly TxnState[]>> = {
  Empty: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  Ongoing: ['Ongoing', 'Empty', 'CompleteCommit', 'CompleteAbort'],
  PrepareCommit: ['Ongoing'],
  PrepareAbort: ['Ongoing', 'PrepareEpochFence'],
  CompleteCommit: ['PrepareCommit'],
  CompleteAbort: ['PrepareAbort'],
  Dead: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  PrepareEpochFence: ['Ongoing'],
};

export function canMove(from: TxnState, to: TxnState): boolean {
  return validPrevious[to].includes(from);
}

/** Throws INVALID_TXN_STATE unless the move is allowed. */
export function checkMove(transactionalId: string, from: TxnState, to: TxnState): void {
  if (!canMove(from, to)) {
    throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', `transactional id ${transactionalId} cannot go from ${from} to ${to}`);
  }
}

/** A transaction is being completed: markers are on their way. */
export function isPreparing(state: TxnState): boolean {
  return state === 'PrepareCommit' || state === 'PrepareAbort' || state === 'PrepareEpochFence';
}

/** No transaction open: a new one may begin. */
export function isIdle(state: TxnState): boolean {
  return state === 'Empty' || state === 'CompleteCommit' || state === 'CompleteAbort';
}
