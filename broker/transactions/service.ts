/**
 * The transaction services both listeners call: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 * ListTransactions, DescribeTransactions and FindCoordinator's key type 1, over the broker's
 * transaction coordinator (coordinator.ts). InitProducerId with a transactional id is
 * init-producer-id.ts.
 */
import { SluiceError } from '../../proto/errors.js';
import type {
  AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeTransactionsRequest, EndTxnRequest, ListTransactionsRequest,
  TransactionDescription, TransactionListing, TxnTopicResult,
} from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemError } from '../api/item-result.js';
import { offsetsTopic } from '../groups/offsets-topic.js';
import { checkGroupId } from '../services/groups.js';
import { txnStates } from './txn-state.js';
import { txnStateTopic } from './txn-topic.js';

/**
 * Adds the partitions to the producer's transaction. Every partition must exist: if one does
 * not, none is added and each unknown one answers UNKNOWN_TOPIC_OR_PARTITION (the others carry
 * the same code with a message saying they were not attempted: the wire has no
 * OPERATION_NOT_ATTEMPTED yet). A coordinator-level error is every partition's.
 */
export async function addPartitionsToTxn(context: BrokerContext, request: AddPartitionsToTxnRequest): Promise<TxnTopicResult[]> {
  const unknown = new Set<string>();
  for (const topic of request.topics) {
    const described = context.cluster.describeTopic(topic.name);
    for (const partition of topic.partitions) {
      if (described === undefined || !described.some((candidate) => candidate.partition === partition) || topic.name.startsWith('__')) unknown.add(`${topic.name}-${partition}`);
    }
  }
  let failure: { errorCode: number; errorMessage: string } | undefined;
  if (unknown.size > 0) {
    const shown = [...unknown].slice(0, 5).join(', ');
    return request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partition,
        ...itemError(context, { api: 'AddPartitionsToTxn' }, new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', unknown.has(`${topic.name}-${partition}`)
          ? `partition ${partition} of topic ${topic.name} does not exist`
          : `not added: other partitions of the request do not exist (${shown})`)),
      })),
    }));
  }
  try {
    await context.transactions.addPartitions(request, request.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition }))));
  } catch (error) {
    failure = itemError(context, { api: 'AddPartitionsToTxn' }, error);
  }
  return request.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((partition) => ({ partition, errorCode: failure?.errorCode ?? 0, errorMessage: failure?.errorMessage ?? '' })),
  }));
}

/** Adds the group's `__consumer_offsets` partition to the transaction, so its TxnOffsetCommit gets the transaction's marker. */
export async function addOffsetsToTxn(context: BrokerContext, request: AddOffsetsToTxnRequest): Promise<void> {
  checkGroupId(request.groupId);
  const partition = context.offsets.partitionFor(request.groupId);
  await context.transactions.addPartitions(request, [{ topic: offsetsTopic, partition }]);
}

export async function endTxn(context: BrokerContext, request: EndTxnRequest): Promise<void> {
  await context.transactions.endTxn(request);
}

/** The ids this broker coordinates; unknown state names are returned so the caller can say so. */
export function listTransactions(context: BrokerContext, request: ListTransactionsRequest & { minDurationMs?: number }): { transactions: TransactionListing[]; unknownStateFilters: string[] } {
  const states = request.stateFilters ?? [];
  return {
    transactions: context.transactions.list({ states, producerIds: request.producerIdFilters ?? [], minDurationMs: request.minDurationMs ?? -1 }),
    unknownStateFilters: states.filter((state) => !(txnStates as readonly string[]).includes(state)),
  };
}

export function describeTransactions(context: BrokerContext, request: DescribeTransactionsRequest): TransactionDescription[] {
  return request.transactionalIds.map((transactionalId) => {
    try {
      return context.transactions.describe(transactionalId);
    } catch (error) {
      return {
        ...itemError(context, { api: 'DescribeTransactions' }, error),
        transactionalId, state: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [],
      };
    }
  });
}

/**
 * FindCoordinator with key type 1: the leader of the transactional id's `__transaction_state`
 * partition (this broker at its native address when it leads it). COORDINATOR_NOT_AVAILABLE
 * while the partition has no leader.
 */
export function findTxnCoordinator(context: BrokerContext, transactionalId: string): { nodeId: number; host: string; port: number } {
  checkTransactionalIdShape(transactionalId);
  const store = context.transactions.store;
  const partition = store.partitionFor(transactionalId);
  const leader = store.partitions.leads(partition)
    ? { nodeId: context.settings.nodeId, host: context.settings.advertisedHost, port: context.settings.advertisedPort }
    : store.partitions.leaderOf(partition);
  if (leader === undefined) {
    throw new SluiceError('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', `partition ${partition} of ${txnStateTopic}, which holds transactional id ${transactionalId}, has no leader now; retry FindCoordinator shortly`);
  }
  return leader;
}

function checkTransactionalIdShape(transactionalId: string): void {
  if (transactionalId.length === 0) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'a transactional id is not empty');
}

/** FindCoordinator's key types. */
export const coordinatorKeyType = { group: 0, transaction: 1 } as const;
