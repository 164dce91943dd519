/**
 * Protocol peers that play brokers for client tests, speaking the real wire format
 * (proto/wire.ts, proto/frame-decoder.ts) on 127.0.0.1.
 *
 * `FakeBroker.start({ topics, produce })` is one broker that answers every Produce with what
 * `produce` decides (by default a retriable storage error, as a broker with a full disk).
 *
 * `FakeCluster.start({ brokers: 3, topics })` is several brokers that share one view of the
 * cluster: Metadata lists every live broker and each partition's leader, leader epoch,
 * replicas, ISR and offline replicas; a test moves leaders (bumping the epoch), truncates a
 * partition's log, moves the controller or a group's coordinator, stops and restarts brokers
 * and drops their connections. Each partition has one log (what its replicas agree on):
 * Produce appends to it on the leader, Fetch reads it from the leader, checking the
 * request's leader epoch as a broker does (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), and
 * a request to a broker that is not the leader, controller or coordinator gets
 * NOT_LEADER_OR_FOLLOWER / NOT_CONTROLLER / NOT_COORDINATOR. `intercept` answers any request
 * with an error first.
 *
 * InitProducerId hands out producer ids 1000, 1001, ... With `idempotence: true` a partition
 * also keeps each producer's state as a broker does (epoch, next sequence, the last 5
 * batches' sequence ranges and offsets): a batch it has is answered with its original offset
 * and not appended again, a gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch
 * INVALID_PRODUCER_EPOCH, and an unknown producer whose batch does not start at 0
 * UNKNOWN_PRODUCER_ID (what a leader that lost the state answers; see forgetProducers()).
 * `holdAnswerMs` delays answers and `dropAnswer` breaks the connection instead of answering
 * (the request was handled: a lost answer).
 *
 * The coordinator broker (coordinatorId) is also a small transaction coordinator: InitProducerId
 * with a transactional id gives it a producer id and a new epoch each time (aborting what the
 * previous epoch left open), AddPartitionsToTxn / AddOffsetsToTxn / TxnOffsetCommit check the
 * epoch (PRODUCER_FENCED when older) and collect the transaction, and EndTxn records it in
 * `transactions` (committed offsets land in the group). A transactional batch to a partition
 * not added first is refused with INVALID_TXN_STATE.
 */
import net from 'node:net';
import { errorCodes, type ErrorCode } from '../../proto/errors.js';
import { FrameDecoder } from '../../proto/frame-decoder.js';
import {
  type AddOffsetsToTxnRequest, type AddPartitionsToTxnRequest, type EndTxnRequest, type InitProducerIdRequest, type TxnOffsetCommitRequest,
  Api, apiBodyField, type ApiKey, type CreateTopicsRequest, type ElectLeadersRequest, type FetchRequest, type JoinGroupRequest, type ListOffsetsRequest,
  type OffsetCommitRequest, type OffsetFetchRequest, type ProduceRequest, type RequestEnvelope, type SyncGroupRequest,
} from '../../proto/messages.js';
import { RECORDS_COUNT_OFFSET } from '../../proto/record-batch/layout.js';
import { readBatchHeader, setBaseOffset } from '../../proto/record-batch/record-batch.js';
import { decodeRequest, encodeResponse } from '../../proto/wire.js';
import { FakeShareCoordinator } from './fake-share.js';

export interface ProduceAttempt {
  topic: string;
  partition: number;
  /** How many produces this partition got before this one. */
  attempt: number;
  at: number;
  /** The broker that got it. */
  nodeId: number;
}

export type ProduceAnswer = { errorCode: number; errorMessage?: string; baseOffset?: number };

export interface FakeBrokerOptions {
  /** Partition count per topic. */
  topics: Record<string, number>;
  /** The answer to one partition of a produce; default: SLUICE_ERR_STORAGE every time. */
  produce?: (attempt: ProduceAttempt) => ProduceAnswer;
}

export const storageError = (): ProduceAnswer => ({ errorCode: errorCodes.SLUICE_ERR_STORAGE.wire, errorMessage: 'no space left on device (ENOSPC) writing segment 0' });

const wire = (code: ErrorCode) => errorCodes[code].wire;

export interface FakePartition {
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  /** Stored batches (base offsets set), in order. */
  batches: Array<{ baseOffset: number; count: number; bytes: Buffer }>;
  logEnd: number;
  producers: Map<number, FakeProducerState>;
}

/** A request one broker got, for tests to check where requests went. */
export interface SeenRequest {
  nodeId: number;
  api: number;
  body: unknown;
}

export interface FakeClusterOptions {
  brokers: number;
  /** Partition count per topic; replicas are every broker, leaders spread round-robin. */
  topics?: Record<string, number>;
  /** Answers a request with an error before the fake looks at it; undefined: answer normally. */
  intercept?: (nodeId: number, request: RequestEnvelope) => { errorCode: number; errorMessage?: string } | undefined;
  /** Default produce answer on the leader (after leadership checks); undefined: append. */
  produce?: (attempt: ProduceAttempt) => ProduceAnswer | undefined;
  /** Check producer ids and sequence numbers as a broker does (see the top of this file). */
  idempotence?: boolean;
}

/** One producer's state in one partition. */
export interface FakeProducerState {
  epoch: number;
  /** The sequence the next batch must start with. */
  nextSequence: number;
  recent: Array<{ first: number; last: number; baseOffset: number }>;
}

/** What an open transaction holds: `topic/partition`s, groups, and their pending offsets. */
export interface OpenTransaction {
  partitions: string[];
  groups: string[];
  offsets: Array<{ groupId: string; topic: string; partition: number; offset: number; generationId: number; memberId: string }>;
}

interface GroupState {
  generationId: number;
  members: string[];
  assignments: Map<string, Buffer>;
  offsets: Map<string, number>;
}

export class FakeCluster {
  readonly nodes = new Map<number, FakeBroker>();
  readonly partitions = new Map<string, FakePartition[]>();
  readonly requests: SeenRequest[] = [];
  readonly produces: ProduceAttempt[] = [];
  controllerId = 0;
  /** Brokers left out of Metadata (gone from the cluster) though still listening. */
  readonly departed = new Set<number>();
  /** Brokers Metadata still lists though they stopped listening (their session has not expired yet). */
  readonly ghosts = new Set<number>();
  /**
   * Brokers cut off from the rest of the cluster, with the Metadata answer they had then: clients
   * still reach them, they go on naming themselves leaders, and every produce they get times out
   * (their followers cannot fetch it). See isolate().
   */
  readonly isolated = new Map<number, unknown>();
  /** Which broker coordinates every group; -1: none (COORDINATOR_NOT_AVAILABLE). */
  coordinatorId = 0;
  readonly groups = new Map<string, GroupState>();
  intercept: FakeClusterOptions['intercept'];
  produce: FakeClusterOptions['produce'];
  idempotence = false;
  /** Delays the answer to a request (ms); undefined or 0: answer at once. */
  holdAnswerMs: ((nodeId: number, request: RequestEnvelope) => number | undefined) | undefined;
  /** Breaks the connection instead of answering (after handling the request). */
  dropAnswer: ((nodeId: number, request: RequestEnvelope) => boolean) | undefined;
  /** Producer ids handed out by InitProducerId, in order. */
  readonly producerIds: number[] = [];
  /** The share-group coordinator (APIs 28–33, on the coordinator broker): test/helpers/fake-share.ts. */
  readonly share = new FakeShareCoordinator((topic) => this.partitions.get(topic));
  readonly #attempts = new Map<string, number>();

  static async start(options: FakeClusterOptions): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    cluster.intercept = options.intercept;
    cluster.produce = options.produce;
    cluster.idempotence = options.idempotence ?? false;
    for (let nodeId = 0; nodeId < options.brokers; nodeId += 1) cluster.nodes.set(nodeId, await FakeBroker.listen(cluster, nodeId, 0));
    for (const [name, count] of Object.entries(options.topics ?? {})) cluster.createTopic(name, count);
    return cluster;
  }

  get bootstrap(): string {
    return [...this.nodes.values()].map((node) => node.bootstrap).join(',');
  }

  node(nodeId: number): FakeBroker {
    return this.nodes.get(nodeId)!;
  }

  createTopic(name: string, count: number, replicationFactor = this.nodes.size): void {
    const ids = [...this.nodes.keys()];
    this.partitions.set(name, Array.from({ length: count }, (_, partition) => {
      const replicas = Array.from({ length: replicationFactor }, (_, index) => ids[(partition + index) % ids.length]!);
      return { leader: replicas[0]!, leaderEpoch: 0, replicas, isr: [...replicas], offlineReplicas: [], batches: [], logEnd: 0, producers: new Map() };
    }));
  }

  partition(topic: string, partition: number): FakePartition {
    return this.partitions.get(topic)![partition]!;
  }

  /** Moves a partition's leadership (-1: offline) and bumps its leader epoch. */
  moveLeader(topic: string, partition: number, leader: number): void {
    const state = this.partition(topic, partition);
    state.leader = leader;
    state.leaderEpoch += 1;
  }

  /** The partition forgets every producer (an unclean election, or expired state). */
  forgetProducers(topic: string, partition: number): void {
    this.partition(topic, partition).producers.clear();
  }

  /** Cuts a broker off from the rest of the cluster (a network partition): it keeps its present view. */
  isolate(nodeId: number): void {
    this.isolated.set(nodeId, this.#metadata([...this.partitions.keys()]));
  }

  /** Cuts a partition's log back to `offset` (a new leader that lacked the tail). */
  truncate(topic: string, partition: number, offset: number): void {
    const state = this.partition(topic, partition);
    state.batches = state.batches.filter((batch) => batch.baseOffset + batch.count <= offset);
    state.logEnd = state.batches.reduce((end, batch) => Math.max(end, batch.baseOffset + batch.count), 0);
  }

  /** Appends a batch as the leader would; returns its base offset. */
  append(topic: string, partition: number, batch: Buffer): number {
    const state = this.partition(topic, partition);
    const bytes = Buffer.from(batch);
    setBaseOffset(bytes, 0, state.logEnd);
    const count = bytes.readInt32BE(RECORDS_COUNT_OFFSET);
    state.batches.push({ baseOffset: state.logEnd, count, bytes });
    state.logEnd += count;
    return state.logEnd - count;
  }

  /** Requests of one API, in order, with the broker that got each. */
  seen(api: number): SeenRequest[] {
    return this.requests.filter((request) => request.api === api);
  }

  async close(): Promise<void> {
    for (const node of this.nodes.values()) await node.close();
  }

  // --- answers -------------------------------------------------------------------------------

  answer(nodeId: number, request: RequestEnvelope): unknown {
    const field = apiBodyField[request.api as ApiKey];
    this.requests.push({ nodeId, api: request.api, body: request[field] });
    const injected = this.intercept?.(nodeId, request);
    if (injected !== undefined) throw injected;
    const frozen = this.isolated.get(nodeId);
    if (frozen !== undefined && request.api === Api.METADATA) return frozen;
    if (frozen !== undefined && request.api === Api.PRODUCE) {
      const produce = request.produce as ProduceRequest;
      return {
        topics: produce.topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map(({ partition }) => ({
            partition, errorCode: wire('SLUICE_ERR_REQUEST_TIMED_OUT'), errorMessage: `broker ${nodeId} is cut off from its followers`, baseOffset: -1, logStartOffset: 0, logAppendTimeMs: -1,
          })),
        })),
      };
    }
    switch (request.api) {
      case Api.API_VERSIONS:
        return { apis: Object.values(Api).map((api) => ({ api, minVersion: 1, maxVersion: 1 })), brokerVersion: 'fake' };
      case Api.METADATA:
        return this.#metadata((request.metadata as { topics?: string[] }).topics ?? []);
      case Api.PRODUCE:
        return this.#produce(nodeId, request.produce as ProduceRequest);
      case Api.FETCH:
        return this.#fetch(nodeId, request.fetch as FetchRequest);
      case Api.LIST_OFFSETS:
        return this.#listOffsets(nodeId, request.listOffsets as ListOffsetsRequest);
      case Api.INIT_PRODUCER_ID: {
        if ((request.initProducerId as InitProducerIdRequest).transactionalId) return this.#transactional(nodeId, request);
        // An idempotent producer's id, from any broker.
        const producerId = 1000 + this.producerIds.length;
        this.producerIds.push(producerId);
        return { errorCode: 0, errorMessage: '', producerId, producerEpoch: 0 };
      }
      case Api.ADD_PARTITIONS_TO_TXN: case Api.ADD_OFFSETS_TO_TXN: case Api.END_TXN: case Api.TXN_OFFSET_COMMIT:
        return this.#transactional(nodeId, request);
      case Api.LIST_TRANSACTIONS:
        return {
          errorCode: 0, errorMessage: '',
          transactions: nodeId !== this.coordinatorId ? [] : [...this.transactionalIds].map(([transactionalId, state]) => ({ transactionalId, producerId: state.producerId, state: this.#txnState(state) })),
        };
      case Api.DESCRIBE_TRANSACTIONS: {
        const ids = (request.describeTransactions as { transactionalIds: string[] }).transactionalIds;
        return {
          transactions: ids.map((transactionalId) => {
            const state = this.transactionalIds.get(transactionalId);
            const none = { transactionalId, state: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] };
            if (nodeId !== this.coordinatorId) return { ...none, errorCode: wire('SLUICE_ERR_NOT_COORDINATOR'), errorMessage: 'not here' };
            if (state === undefined) return { ...none, errorCode: wire('SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND'), errorMessage: `no transactional id ${transactionalId}` };
            const topics = new Map<string, number[]>();
            for (const entry of state.open?.partitions ?? []) {
              const [topic, partition] = entry.split('/') as [string, string];
              topics.set(topic, [...(topics.get(topic) ?? []), Number(partition)]);
            }
            return {
              errorCode: 0, errorMessage: '', transactionalId, state: this.#txnState(state), transactionTimeoutMs: 60_000, transactionStartTimeMs: state.open === undefined ? -1 : 1_700_000_000_000,
              producerId: state.producerId, producerEpoch: state.producerEpoch, topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
            };
          }),
        };
      }
      case Api.FIND_COORDINATOR: {
        const coordinator = this.nodes.get(this.coordinatorId);
        // A ghost (dead but still in the metadata, its lease not expired yet) is still named.
        if (coordinator === undefined || (!coordinator.listening && !this.ghosts.has(this.coordinatorId))) {
          return { nodeId: -1, host: '', port: 0, errorCode: wire('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE'), errorMessage: 'no coordinator' };
        }
        return { nodeId: this.coordinatorId, host: '127.0.0.1', port: coordinator.port };
      }
      case Api.JOIN_GROUP: case Api.SYNC_GROUP: case Api.HEARTBEAT: case Api.LEAVE_GROUP: case Api.OFFSET_COMMIT: case Api.OFFSET_FETCH:
        if (nodeId !== this.coordinatorId) throw { errorCode: wire('SLUICE_ERR_NOT_COORDINATOR'), errorMessage: `broker ${nodeId} does not coordinate this group` };
        return this.#group(request);
      case Api.SHARE_HEARTBEAT: case Api.SHARE_FETCH: case Api.SHARE_ACKNOWLEDGE: case Api.DESCRIBE_SHARE_GROUP: case Api.ALTER_GROUP_CONFIGS: case Api.DESCRIBE_GROUP_CONFIGS:
        if (nodeId !== this.coordinatorId) throw { errorCode: wire('SLUICE_ERR_NOT_COORDINATOR'), errorMessage: `broker ${nodeId} does not coordinate this group` };
        return this.share.answer(request);
      case Api.LIST_GROUPS:
        return { groups: nodeId === this.coordinatorId ? [...this.groups].map(([groupId, group]) => ({ groupId, state: 'Stable', members: group.members.length })) : [] };
      case Api.CREATE_TOPICS: case Api.DELETE_TOPICS: case Api.ELECT_LEADERS:
        if (nodeId !== this.controllerId) throw { errorCode: wire('SLUICE_ERR_NOT_CONTROLLER'), errorMessage: `broker ${nodeId} is not the controller` };
        return this.#admin(request);
      case Api.DESCRIBE_CLUSTER:
        return {
          clusterId: 'fake', controllerId: this.controllerId,
          brokers: [...this.nodes].map(([id, node]) => ({
            nodeId: id, host: '127.0.0.1', port: node.port, rack: `rack-${id}`, alive: node.listening, brokerEpoch: 1, shuttingDown: false,
            leaderCount: [...this.partitions.values()].flat().filter((partition) => partition.leader === id).length,
          })),
        };
      default:
        return undefined;
    }
  }

  #metadata(asked: string[]): unknown {
    const names = asked.length === 0 ? [...this.partitions.keys()] : asked;
    return {
      brokers: [...this.nodes].filter(([nodeId, node]) => (node.listening || this.ghosts.has(nodeId)) && !this.departed.has(nodeId)).map(([nodeId, node]) => ({ nodeId, host: '127.0.0.1', port: node.port })),
      controllerId: this.controllerId,
      topics: names.map((name) => {
        const partitions = this.partitions.get(name);
        if (partitions === undefined) return { name, errorCode: wire('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION'), errorMessage: `unknown topic ${name}`, partitions: [] };
        return {
          name, errorCode: 0, errorMessage: '',
          partitions: partitions.map((state, partition) => ({
            partition, errorCode: 0, leader: state.leader, leaderEpoch: state.leaderEpoch, replicas: state.replicas, isr: state.isr, offlineReplicas: state.offlineReplicas,
          })),
        };
      }),
    };
  }

  /** Why `nodeId` may not serve this partition now, as a wire error code (0: it may). */
  #leadershipError(nodeId: number, topic: string, partition: number, currentLeaderEpoch?: number | null): number {
    const state = this.partitions.get(topic)?.[partition];
    if (state === undefined) return wire('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION');
    if (state.leader !== nodeId) return state.leader < 0 ? wire('SLUICE_ERR_LEADER_NOT_AVAILABLE') : wire('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER');
    if (currentLeaderEpoch !== undefined && currentLeaderEpoch !== null) {
      if (currentLeaderEpoch < state.leaderEpoch) return wire('SLUICE_ERR_FENCED_LEADER_EPOCH');
      if (currentLeaderEpoch > state.leaderEpoch) return wire('SLUICE_ERR_UNKNOWN_LEADER_EPOCH');
    }
    return 0;
  }

  #produce(nodeId: number, produce: ProduceRequest): unknown {
    return {
      topics: produce.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map(({ partition, records }) => {
          const failed = (errorCode: number, errorMessage = '') => ({ partition, errorCode, errorMessage, baseOffset: -1, logStartOffset: 0, logAppendTimeMs: -1 });
          const key = `${topic.name}/${partition}`;
          const attempt: ProduceAttempt = { topic: topic.name, partition, attempt: this.#attempts.get(key) ?? 0, at: Date.now(), nodeId };
          this.#attempts.set(key, attempt.attempt + 1);
          this.produces.push(attempt);
          const refused = this.#leadershipError(nodeId, topic.name, partition);
          if (refused !== 0) return failed(refused, `broker ${nodeId} cannot take ${key}`);
          const answer = this.produce?.(attempt);
          if (answer !== undefined && answer.errorCode !== 0) return failed(answer.errorCode, answer.errorMessage);
          const checked = this.idempotence ? this.#checkSequence(topic.name, partition, records) : undefined;
          if (checked?.errorCode) return failed(checked.errorCode, checked.errorMessage);
          if (checked?.duplicateOf !== undefined) return { partition, errorCode: 0, errorMessage: '', baseOffset: checked.duplicateOf, logStartOffset: 0, logAppendTimeMs: -1 };
          const baseOffset = this.append(topic.name, partition, records);
          checked?.record?.(baseOffset);
          return { partition, errorCode: 0, errorMessage: '', baseOffset, logStartOffset: 0, logAppendTimeMs: -1 };
        }),
      })),
    };
  }

  #txnState(state: { open: OpenTransaction | undefined }): string {
    return state.open !== undefined ? 'Ongoing' : this.transactions.length === 0 ? 'Empty' : 'CompleteCommit';
  }

  #transactional(nodeId: number, request: RequestEnvelope): unknown {
    if (nodeId !== this.coordinatorId) throw { errorCode: wire('SLUICE_ERR_NOT_COORDINATOR'), errorMessage: `broker ${nodeId} does not coordinate this transactional id` };
    const fenced = (transactionalId: string, producerEpoch: number) => {
      const state = this.transactionalIds.get(transactionalId);
      if (state === undefined) throw { errorCode: wire('SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING'), errorMessage: `unknown transactional id ${transactionalId}` };
      if (producerEpoch < state.producerEpoch) throw { errorCode: wire('SLUICE_ERR_PRODUCER_FENCED'), errorMessage: `epoch ${producerEpoch} < ${state.producerEpoch}` };
      return state;
    };
    switch (request.api) {
      case Api.INIT_PRODUCER_ID: {
        const init = request.initProducerId as InitProducerIdRequest;
        const transactionalId = init.transactionalId!;
        let state = this.transactionalIds.get(transactionalId);
        if (state === undefined) {
          const producerId = 1000 + this.producerIds.length;
          this.producerIds.push(producerId);
          state = { producerId, producerEpoch: -1, open: undefined };
          this.transactionalIds.set(transactionalId, state);
        }
        if (state.open !== undefined) this.transactions.push({ transactionalId, producerEpoch: state.producerEpoch, committed: false, ...state.open });
        state.open = undefined;
        state.producerEpoch += 1;
        return { errorCode: 0, errorMessage: '', producerId: state.producerId, producerEpoch: state.producerEpoch };
      }
      case Api.ADD_PARTITIONS_TO_TXN: {
        const add = request.addPartitionsToTxn as AddPartitionsToTxnRequest;
        const state = fenced(add.transactionalId, add.producerEpoch);
        state.open ??= { partitions: [], groups: [], offsets: [] };
        for (const topic of add.topics) for (const partition of topic.partitions) if (!state.open.partitions.includes(`${topic.name}/${partition}`)) state.open.partitions.push(`${topic.name}/${partition}`);
        return { topics: add.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((partition) => ({ partition, errorCode: 0, errorMessage: '' })) })) };
      }
      case Api.ADD_OFFSETS_TO_TXN: {
        const add = request.addOffsetsToTxn as AddOffsetsToTxnRequest;
        const state = fenced(add.transactionalId, add.producerEpoch);
        state.open ??= { partitions: [], groups: [], offsets: [] };
        state.open.groups.push(add.groupId);
        return { errorCode: 0, errorMessage: '' };
      }
      case Api.TXN_OFFSET_COMMIT: {
        const commit = request.txnOffsetCommit as TxnOffsetCommitRequest;
        const state = fenced(commit.transactionalId, commit.producerEpoch);
        if (state.open?.groups.includes(commit.groupId) !== true) throw { errorCode: wire('SLUICE_ERR_INVALID_TXN_STATE'), errorMessage: 'TxnOffsetCommit before AddOffsetsToTxn' };
        for (const topic of commit.topics) for (const entry of topic.partitions) state.open.offsets.push({ groupId: commit.groupId, topic: topic.name, partition: entry.partition, offset: entry.offset, generationId: commit.generationId, memberId: commit.memberId });
        return { topics: commit.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((entry) => ({ partition: entry.partition, errorCode: 0, errorMessage: '' })) })) };
      }
      default: {
        const end = request.endTxn as EndTxnRequest;
        const state = fenced(end.transactionalId, end.producerEpoch);
        if (state.open === undefined) throw { errorCode: wire('SLUICE_ERR_INVALID_TXN_STATE'), errorMessage: 'no transaction open' };
        this.transactions.push({ transactionalId: end.transactionalId, producerEpoch: end.producerEpoch, committed: end.committed, ...state.open });
        if (end.committed) for (const entry of state.open.offsets) this.#groupState(entry.groupId).offsets.set(`${entry.topic}/${entry.partition}`, entry.offset);
        state.open = undefined;
        return { errorCode: 0, errorMessage: '' };
      }
    }
  }

  /** A broker's producer-state check of one batch: an error, the offset of the copy it has, or how to record it once appended. */
  #checkSequence(topic: string, partition: number, records: Buffer): { errorCode?: number; errorMessage?: string; duplicateOf?: number; record?: (baseOffset: number) => void } | undefined {
    const header = readBatchHeader(records);
    if (header.isTransactional) {
      const open = [...this.transactionalIds.values()].find((state) => state.producerId === header.producerId)?.open;
      if (open?.partitions.includes(`${topic}/${partition}`) !== true) return { errorCode: wire('SLUICE_ERR_INVALID_TXN_STATE'), errorMessage: `${topic}/${partition} is not in producer ${header.producerId}'s transaction` };
    }
    if (header.producerId < 0) return undefined;
    const producers = this.partition(topic, partition).producers;
    const state = producers.get(header.producerId);
    const first = header.baseSequence;
    const last = first + header.lastOffsetDelta;
    const record = (baseOffset: number) => {
      const entry = producers.get(header.producerId) ?? { epoch: header.producerEpoch, nextSequence: 0, recent: [] };
      if (header.producerEpoch > entry.epoch) entry.recent = [];
      entry.epoch = header.producerEpoch;
      entry.nextSequence = last + 1;
      entry.recent.push({ first, last, baseOffset });
      if (entry.recent.length > 5) entry.recent.shift();
      producers.set(header.producerId, entry);
    };
    if (state === undefined) {
      if (first !== 0) return { errorCode: wire('SLUICE_ERR_UNKNOWN_PRODUCER_ID'), errorMessage: `no state for producer ${header.producerId}, whose batch starts at ${first}` };
      return { record };
    }
    if (header.producerEpoch < state.epoch) return { errorCode: wire('SLUICE_ERR_INVALID_PRODUCER_EPOCH'), errorMessage: `epoch ${header.producerEpoch} < ${state.epoch}` };
    if (header.producerEpoch > state.epoch) {
      return first === 0 ? { record } : { errorCode: wire('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER'), errorMessage: `a new epoch starts at 0, not ${first}` };
    }
    const copy = state.recent.find((entry) => entry.first === first && entry.last === last);
    if (copy !== undefined) return { duplicateOf: copy.baseOffset };
    if (first !== state.nextSequence) return { errorCode: wire('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER'), errorMessage: `expected sequence ${state.nextSequence}, got ${first}` };
    return { record };
  }

  #fetch(nodeId: number, fetch: FetchRequest): unknown {
    return {
      topics: fetch.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((asked) => {
          const result = { partition: asked.partition, errorCode: 0, errorMessage: '', highWatermark: -1, logStartOffset: 0, records: Buffer.alloc(0) };
          const refused = this.#leadershipError(nodeId, topic.name, asked.partition, asked.currentLeaderEpoch);
          if (refused !== 0) return { ...result, errorCode: refused, errorMessage: `broker ${nodeId} refuses to serve ${topic.name}/${asked.partition}` };
          const state = this.partition(topic.name, asked.partition);
          if (asked.fetchOffset > state.logEnd) return { ...result, errorCode: wire('SLUICE_ERR_OFFSET_OUT_OF_RANGE'), errorMessage: 'past the log end', highWatermark: state.logEnd };
          const batches = state.batches.filter((batch) => batch.baseOffset + batch.count > asked.fetchOffset);
          return { ...result, highWatermark: state.logEnd, records: Buffer.concat(batches.map((batch) => batch.bytes)) };
        }),
      })),
    };
  }

  #listOffsets(nodeId: number, request: ListOffsetsRequest): unknown {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((asked) => {
          const refused = this.#leadershipError(nodeId, topic.name, asked.partition, asked.currentLeaderEpoch);
          if (refused !== 0) return { partition: asked.partition, errorCode: refused, errorMessage: 'not the leader', offset: -1, timestamp: -1 };
          const state = this.partition(topic.name, asked.partition);
          return { partition: asked.partition, errorCode: 0, errorMessage: '', offset: asked.timestamp === -2 ? 0 : state.logEnd, timestamp: -1, leaderEpoch: state.leaderEpoch };
        }),
      })),
    };
  }

  #groupState(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (group === undefined) this.groups.set(groupId, group = { generationId: 0, members: [], assignments: new Map(), offsets: new Map() });
    return group;
  }

  /** A one-generation-at-a-time group: every join starts a new generation with the members that joined. */
  #group(request: RequestEnvelope): unknown {
    switch (request.api) {
      case Api.JOIN_GROUP: {
        const join = request.joinGroup as JoinGroupRequest;
        const group = this.#groupState(join.groupId);
        const memberId = join.memberId || `member-${group.members.length + 1}-${Date.now()}`;
        if (!group.members.includes(memberId)) group.members.push(memberId);
        group.generationId += 1;
        const protocol = join.protocols[0]!;
        return { generationId: group.generationId, protocolName: protocol.name, leader: group.members[0], memberId, members: group.members[0] === memberId ? [{ memberId, groupInstanceId: '', metadata: protocol.metadata }] : [] };
      }
      case Api.SYNC_GROUP: {
        const sync = request.syncGroup as SyncGroupRequest;
        const group = this.#groupState(sync.groupId);
        for (const entry of sync.assignments) group.assignments.set(entry.memberId, entry.assignment);
        return { assignment: group.assignments.get(sync.memberId) ?? Buffer.alloc(0) };
      }
      case Api.HEARTBEAT: case Api.LEAVE_GROUP:
        return {};
      case Api.OFFSET_COMMIT: {
        const commit = request.offsetCommit as OffsetCommitRequest;
        const group = this.#groupState(commit.groupId);
        return {
          topics: commit.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((entry) => {
              group.offsets.set(`${topic.name}/${entry.partition}`, entry.offset);
              return { partition: entry.partition, errorCode: 0, errorMessage: '' };
            }),
          })),
        };
      }
      default: {
        const fetch = request.offsetFetch as OffsetFetchRequest;
        const group = this.#groupState(fetch.groupId);
        const byTopic = new Map<string, Array<{ partition: number; offset: number; metadata: string; commitTimestamp: number }>>();
        for (const [key, offset] of group.offsets) {
          const [topic, partition] = key.split('/') as [string, string];
          if ((fetch.topics?.length ?? 0) > 0 && !fetch.topics!.includes(topic)) continue;
          byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partition: Number(partition), offset, metadata: '', commitTimestamp: 0 }]);
        }
        return { topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
      }
    }
  }

  #admin(request: RequestEnvelope): unknown {
    if (request.api === Api.CREATE_TOPICS) {
      const create = request.createTopics as CreateTopicsRequest;
      return {
        topics: create.topics.map((topic) => {
          if (this.partitions.has(topic.name)) return { name: topic.name, errorCode: wire('SLUICE_ERR_TOPIC_ALREADY_EXISTS'), errorMessage: `topic ${topic.name} exists` };
          if ((topic.replicationFactor ?? 1) > this.nodes.size) return { name: topic.name, errorCode: wire('SLUICE_ERR_INVALID_REPLICATION_FACTOR'), errorMessage: 'too few brokers' };
          this.createTopic(topic.name, topic.partitions, topic.replicationFactor || 1);
          this.created.push({ name: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor ?? 0, configs: { ...(topic.configs ?? {}) } });
          return { name: topic.name, errorCode: 0, errorMessage: '' };
        }),
      };
    }
    if (request.api === Api.DELETE_TOPICS) {
      return { topics: (request.deleteTopics as { topics: string[] }).topics.map((name) => ({ name, errorCode: this.partitions.delete(name) ? 0 : wire('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION'), errorMessage: '' })) };
    }
    const elect = request.electLeaders as ElectLeadersRequest;
    this.elections.push({ electionType: elect.electionType, topics: (elect.topics ?? []).map((topic) => ({ name: topic.name, partitions: [...topic.partitions] })) });
    const wanted = (elect.topics ?? []).length > 0 ? elect.topics! : [...this.partitions].map(([name, partitions]) => ({ name, partitions: partitions.map((_, index) => index) }));
    return {
      topics: wanted.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          const state = this.partition(topic.name, partition);
          if (state.leader === state.replicas[0]) return { partition, errorCode: wire('SLUICE_ERR_ELECTION_NOT_NEEDED'), errorMessage: 'already led by its preferred replica' };
          this.moveLeader(topic.name, partition, state.replicas[0]!);
          return { partition, errorCode: 0, errorMessage: '' };
        }),
      })),
    };
  }

  /** Transactional ids the coordinator knows, with the transaction each has open. */
  readonly transactionalIds = new Map<string, { producerId: number; producerEpoch: number; open: OpenTransaction | undefined }>();
  /** Transactions ended (EndTxn, or aborted by a new epoch's InitProducerId), in order. */
  readonly transactions: Array<{ transactionalId: string; producerEpoch: number; committed: boolean } & OpenTransaction> = [];

  /** CreateTopics the controller took, as asked. */
  readonly created: Array<{ name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }> = [];
  /** ElectLeaders the controller took, as asked. */
  readonly elections: Array<{ electionType: number; topics: Array<{ name: string; partitions: number[] }> }> = [];
}

export class FakeBroker {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly #cluster: FakeCluster;
  readonly nodeId: number;
  port = 0;

  private constructor(cluster: FakeCluster, nodeId: number) {
    this.#cluster = cluster;
    this.nodeId = nodeId;
  }

  /** One broker whose every produce is answered by `options.produce` (default a storage error). */
  static async start(options: FakeBrokerOptions): Promise<FakeBroker> {
    const produce = options.produce ?? storageError;
    const cluster = await FakeCluster.start({ brokers: 1, topics: options.topics, produce: (attempt) => {
      const answer = produce(attempt);
      return answer.errorCode === 0 ? undefined : answer;
    } });
    return cluster.node(0);
  }

  static async listen(cluster: FakeCluster, nodeId: number, port: number): Promise<FakeBroker> {
    const broker = new FakeBroker(cluster, nodeId);
    await broker.restart(port);
    return broker;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Every produce partition the cluster received, in order. */
  get produces(): ProduceAttempt[] {
    return this.#cluster.produces;
  }

  /** Starts listening again (on the same port unless told otherwise). */
  async restart(port = this.port): Promise<void> {
    const server = net.createServer((socket) => this.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.#server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Client connections open now. */
  get openConnections(): number {
    return this.#sockets.size;
  }

  /** Breaks every open connection (the client sees them drop); the broker keeps listening. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  #serve(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) this.#reply(socket, decodeRequest(frame));
    });
  }

  #reply(socket: net.Socket, request: RequestEnvelope): void {
    const field = apiBodyField[request.api as ApiKey];
    let answer: Record<string, unknown>;
    try {
      const body = this.#cluster.answer(this.nodeId, request);
      answer = body === undefined
        ? { correlationId: request.correlationId, errorCode: errorCodes.SLUICE_ERR_UNKNOWN_API.wire, errorMessage: `the fake broker does not answer api ${request.api}` }
        : { correlationId: request.correlationId, errorCode: 0, errorMessage: '', [field]: body };
    } catch (thrown) {
      const { errorCode, errorMessage } = thrown as { errorCode: number; errorMessage?: string };
      answer = { correlationId: request.correlationId, errorCode, errorMessage: errorMessage ?? '' };
    }
    if (this.#cluster.dropAnswer?.(this.nodeId, request)) {
      socket.destroy();
      return;
    }
    const held = this.#cluster.holdAnswerMs?.(this.nodeId, request) ?? 0;
    const write = () => { if (!socket.destroyed) socket.write(encodeResponse(answer as never)); };
    const send = held > 0 ? () => setTimeout(write, held) : write;
    // An empty fetch waits a little, as a long poll does, so a client does not spin on the fake.
    const fetch = answer.fetch as { topics: Array<{ partitions: Array<{ records: Buffer; errorCode: number }> }> } | undefined;
    const empty = fetch?.topics.every((topic) => topic.partitions.every((partition) => partition.records.length === 0 && partition.errorCode === 0));
    const shareFetch = answer.shareFetch as { topics: unknown[] } | undefined;
    if (empty) setTimeout(send, Math.min(50, (request.fetch as FetchRequest).maxWaitMs));
    else if (shareFetch?.topics.length === 0) setTimeout(send, Math.min(50, (request.shareFetch as { maxWaitMs: number }).maxWaitMs));
    else send();
  }

  /** Stops listening and drops every connection (a dead broker); restart() brings it back. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.dropConnections();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
