/**
 * The transaction APIs on the native protocol — AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 * TxnOffsetCommit, ListTransactions, DescribeTransactions — as thin handlers over the
 * transaction services (broker/transactions/). InitProducerId is in producer-ids.ts.
 */
import { errorToWire } from '../../proto/errors.js';
import {
  Api, type AddOffsetsToTxnRequest, type AddPartitionsToTxnRequest, type DescribeTransactionsRequest, type EndTxnRequest, type ListTransactionsRequest,
  type TxnOffsetCommitRequest,
} from '../../proto/messages.js';
import { addOffsetsToTxn, addPartitionsToTxn, describeTransactions, endTxn, listTransactions } from '../transactions/service.js';
import { txnOffsetCommit } from '../transactions/txn-offset-commit.js';
import type { ApiHandler } from './context.js';

const handler = (api: number, name: string, bodyField: ApiHandler['bodyField'], handle: ApiHandler['handle']): ApiHandler =>
  ({ api, name, bodyField, minVersion: 1, maxVersion: 1, handle });

/** A call whose only result is success or an error, in the response's error fields. */
async function errorFields(work: () => Promise<void>): Promise<{ errorCode: number; errorMessage: string }> {
  try {
    await work();
    return { errorCode: 0, errorMessage: '' };
  } catch (error) {
    return errorToWire(error);
  }
}

export const addPartitionsToTxnHandler = handler(Api.ADD_PARTITIONS_TO_TXN, 'AddPartitionsToTxn', 'addPartitionsToTxn', async (request, context) =>
  ({ kind: 'body', body: { topics: await addPartitionsToTxn(context, request.addPartitionsToTxn as AddPartitionsToTxnRequest) } }));

export const addOffsetsToTxnHandler = handler(Api.ADD_OFFSETS_TO_TXN, 'AddOffsetsToTxn', 'addOffsetsToTxn', async (request, context) =>
  ({ kind: 'body', body: await errorFields(() => addOffsetsToTxn(context, request.addOffsetsToTxn as AddOffsetsToTxnRequest)) }));

export const endTxnHandler = handler(Api.END_TXN, 'EndTxn', 'endTxn', async (request, context) =>
  ({ kind: 'body', body: await errorFields(() => endTxn(context, request.endTxn as EndTxnRequest)) }));

export const txnOffsetCommitHandler = handler(Api.TXN_OFFSET_COMMIT, 'TxnOffsetCommit', 'txnOffsetCommit', async (request, context) =>
  ({ kind: 'body', body: { topics: await txnOffsetCommit(context, request.txnOffsetCommit as TxnOffsetCommitRequest) } }));

export const listTransactionsHandler = handler(Api.LIST_TRANSACTIONS, 'ListTransactions', 'listTransactions', (request, context) =>
  ({ kind: 'body', body: { errorCode: 0, errorMessage: '', transactions: listTransactions(context, request.listTransactions as ListTransactionsRequest).transactions } }));

export const describeTransactionsHandler = handler(Api.DESCRIBE_TRANSACTIONS, 'DescribeTransactions', 'describeTransactions', (request, context) =>
  ({ kind: 'body', body: { transactions: describeTransactions(context, request.describeTransactions as DescribeTransactionsRequest) } }));

export const transactionHandlers: ApiHandler[] = [
  addPartitionsToTxnHandler, addOffsetsToTxnHandler, endTxnHandler, txnOffsetCommitHandler, listTransactionsHandler, describeTransactionsHandler,
];
