/**
 * TypeScript shapes of the messages in proto/sluice.proto, as protobufjs decodes them
 * (camelCase fields, int64 as number, bytes as Buffer). Optional fields are absent or zero
 * when not set, as proto3 has it.
 */

export const Api = {
  API_VERSIONS: 1,
  METADATA: 2,
  CREATE_TOPICS: 3,
  DELETE_TOPICS: 4,
  PRODUCE: 5,
  FETCH: 6,
  LIST_OFFSETS: 7,
  OFFSET_COMMIT: 8,
  OFFSET_FETCH: 9,
  LIST_GROUPS: 10,
  JOIN_GROUP: 11,
  SYNC_GROUP: 12,
  HEARTBEAT: 13,
  LEAVE_GROUP: 14,
  DESCRIBE_GROUPS: 15,
  FIND_COORDINATOR: 16,
  OFFSETS_FOR_LEADER_EPOCH: 17,
  DESCRIBE_CLUSTER: 18,
  ELECT_LEADERS: 19,
  INIT_PRODUCER_ID: 20,
  ADD_PARTITIONS_TO_TXN: 21,
  ADD_OFFSETS_TO_TXN: 22,
  END_TXN: 23,
  TXN_OFFSET_COMMIT: 24,
  WRITE_TXN_MARKERS: 25,
  LIST_TRANSACTIONS: 26,
  DESCRIBE_TRANSACTIONS: 27,
  SHARE_HEARTBEAT: 28,
  SHARE_FETCH: 29,
  SHARE_ACKNOWLEDGE: 30,
  DESCRIBE_SHARE_GROUP: 31,
  ALTER_GROUP_CONFIGS: 32,
  DESCRIBE_GROUP_CONFIGS: 33,
} as const;
export type ApiKey = (typeof Api)[keyof typeof Api];

/** The body field each API uses in Request and Response. */
export const apiBodyField = {
  [Api.API_VERSIONS]: 'apiVersions',
  [Api.METADATA]: 'metadata',
  [Api.CREATE_TOPICS]: 'createTopics',
  [Api.DELETE_TOPICS]: 'deleteTopics',
  [Api.PRODUCE]: 'produce',
  [Api.FETCH]: 'fetch',
  [Api.LIST_OFFSETS]: 'listOffsets',
  [Api.OFFSET_COMMIT]: 'offsetCommit',
  [Api.OFFSET_FETCH]: 'offsetFetch',
  [Api.LIST_GROUPS]: 'listGroups',
  [Api.JOIN_GROUP]: 'joinGroup',
  [Api.SYNC_GROUP]: 'syncGroup',
  [Api.HEARTBEAT]: 'heartbeat',
  [Api.LEAVE_GROUP]: 'leaveGroup',
  [Api.DESCRIBE_GROUPS]: 'describeGroups',
  [Api.FIND_COORDINATOR]: 'findCoordinator',
  [Api.OFFSETS_FOR_LEADER_EPOCH]: 'offsetsForLeaderEpoch',
  [Api.DESCRIBE_CLUSTER]: 'describeCluster',
  [Api.ELECT_LEADERS]: 'electLeaders',
  [Api.INIT_PRODUCER_ID]: 'initProducerId',
  [Api.ADD_PARTITIONS_TO_TXN]: 'addPartitionsToTxn',
  [Api.ADD_OFFSETS_TO_TXN]: 'addOffsetsToTxn',
  [Api.END_TXN]: 'endTxn',
  [Api.TXN_OFFSET_COMMIT]: 'txnOffsetCommit',
  [Api.WRITE_TXN_MARKERS]: 'writeTxnMarkers',
  [Api.LIST_TRANSACTIONS]: 'listTransactions',
  [Api.DESCRIBE_TRANSACTIONS]: 'describeTransactions',
  [Api.SHARE_HEARTBEAT]: 'shareHeartbeat',
  [Api.SHARE_FETCH]: 'shareFetch',
  [Api.SHARE_ACKNOWLEDGE]: 'shareAcknowledge',
  [Api.DESCRIBE_SHARE_GROUP]: 'describeShareGroup',
  [Api.ALTER_GROUP_CONFIGS]: 'alterGroupConfigs',
  [Api.DESCRIBE_GROUP_CONFIGS]: 'describeGroupConfigs',
} as const satisfies Record<ApiKey, string>;

export interface ApiVersionRange { api: number; minVersion: number; maxVersion: number }
export interface ApiVersionsResponse { apis: ApiVersionRange[]; brokerVersion: string }

export interface MetadataRequest { topics?: string[] }
export interface BrokerInfo { nodeId: number; host: string; port: number; rack?: string }
export interface PartitionMetadata {
  partition: number; errorCode: number; leader: number; replicas: number[]; isr: number[]; leaderEpoch?: number; offlineReplicas?: number[];
}
export interface TopicMetadata { name: string; errorCode: number; errorMessage: string; partitions: PartitionMetadata[] }
export interface MetadataResponse { brokers: BrokerInfo[]; topics: TopicMetadata[]; controllerId: number; clusterId?: string }

export interface CreateTopic { name: string; partitions: number; replicationFactor?: number; configs?: Record<string, string> }
export interface CreateTopicsRequest { topics: CreateTopic[]; validateOnly?: boolean }
export interface TopicResult { name: string; errorCode: number; errorMessage: string }
export interface CreateTopicsResponse { topics: TopicResult[] }
export interface DeleteTopicsRequest { topics: string[] }
export interface DeleteTopicsResponse { topics: TopicResult[] }

export interface ProducePartition { partition: number; records: Buffer }
export interface ProduceTopic { name: string; partitions: ProducePartition[] }
export interface ProduceRequest { acks: number; timeoutMs: number; topics: ProduceTopic[] }
export interface ProducePartitionResult {
  partition: number; errorCode: number; errorMessage: string; baseOffset: number; logStartOffset: number; logAppendTimeMs: number;
}
export interface ProduceTopicResult { name: string; partitions: ProducePartitionResult[] }
export interface ProduceResponse { topics: ProduceTopicResult[] }

/** Optional epochs and replica ids decode as null when absent (proto3 `optional`). */
export interface FetchPartition {
  partition: number; fetchOffset: number; maxBytes: number;
  currentLeaderEpoch?: number | null; lastFetchedEpoch?: number | null; logStartOffset?: number;
}
export interface FetchTopic { name: string; partitions: FetchPartition[] }
export interface FetchRequest {
  maxWaitMs: number; minBytes: number; maxBytes: number; topics: FetchTopic[]; replicaId?: number | null; replicaEpoch?: number | null;
  /** 0 read_uncommitted (default), 1 read_committed. */
  isolationLevel?: number;
}
export const IsolationLevel = { READ_UNCOMMITTED: 0, READ_COMMITTED: 1 } as const;
export interface AbortedTransaction { producerId: number; firstOffset: number }
export interface EpochEndOffset { epoch: number; endOffset: number }
export interface LeaderIdAndEpoch { leaderId: number; leaderEpoch: number }
export interface FetchPartitionResult {
  partition: number; errorCode: number; errorMessage: string; highWatermark: number; logStartOffset: number; records: Buffer;
  divergingEpoch?: EpochEndOffset | null; currentLeader?: LeaderIdAndEpoch | null;
  lastStableOffset?: number; abortedTransactions?: AbortedTransaction[];
}
export interface FetchTopicResult { name: string; partitions: FetchPartitionResult[] }
export interface FetchResponse { topics: FetchTopicResult[] }

export interface ListOffsetsPartition { partition: number; timestamp: number; currentLeaderEpoch?: number | null }
export interface ListOffsetsTopic { name: string; partitions: ListOffsetsPartition[] }
export interface ListOffsetsRequest {
  topics: ListOffsetsTopic[]; replicaId?: number | null;
  /** 0 read_uncommitted (default), 1 read_committed: latest is the last stable offset. */
  isolationLevel?: number;
}
export interface ListOffsetsPartitionResult {
  partition: number; errorCode: number; errorMessage: string; offset: number; timestamp: number; leaderEpoch?: number;
}
export interface ListOffsetsTopicResult { name: string; partitions: ListOffsetsPartitionResult[] }
export interface ListOffsetsResponse { topics: ListOffsetsTopicResult[] }

export interface OffsetCommitPartition { partition: number; offset: number; metadata?: string }
export interface OffsetCommitTopic { name: string; partitions: OffsetCommitPartition[] }
export interface OffsetCommitRequest { groupId: string; generationId: number; memberId: string; topics: OffsetCommitTopic[] }
export interface OffsetCommitPartitionResult { partition: number; errorCode: number; errorMessage: string }
export interface OffsetCommitResponse { topics: Array<{ name: string; partitions: OffsetCommitPartitionResult[] }> }
export interface OffsetFetchRequest { groupId: string; topics?: string[]; requireStable?: boolean }
export interface OffsetFetchPartition { partition: number; offset: number; metadata: string; commitTimestamp: number }
export interface OffsetFetchTopic { name: string; partitions: OffsetFetchPartition[] }
export interface OffsetFetchResponse { topics: OffsetFetchTopic[] }
export interface GroupListing { groupId: string; state: string; members: number; type?: string }
export interface ListGroupsResponse { groups: GroupListing[] }

export interface JoinGroupRequest {
  groupId: string; sessionTimeoutMs: number; rebalanceTimeoutMs: number; memberId: string; groupInstanceId?: string;
  protocolType: string; protocols: Array<{ name: string; metadata: Buffer }>;
}
export interface JoinGroupMember { memberId: string; groupInstanceId: string; metadata: Buffer }
export interface JoinGroupResponse { generationId: number; protocolName: string; leader: string; memberId: string; members: JoinGroupMember[] }
export interface SyncGroupRequest { groupId: string; generationId: number; memberId: string; assignments: Array<{ memberId: string; assignment: Buffer }> }
export interface SyncGroupResponse { assignment: Buffer }
export interface HeartbeatRequest { groupId: string; generationId: number; memberId: string }
export interface LeaveGroupRequest { groupId: string; memberId: string }
export interface GroupMemberDescription { memberId: string; groupInstanceId: string; clientId: string; assignment: Buffer; metadata: Buffer }
export interface GroupDescriptionResult {
  groupId: string; state: string; generationId: number; protocolType: string; protocolName: string; leader: string; members: GroupMemberDescription[];
}
export interface DescribeGroupsResponse { groups: GroupDescriptionResult[] }

export interface FindCoordinatorResponse { nodeId: number; host: string; port: number; errorCode?: number; errorMessage?: string }

export interface EpochRequestPartition { partition: number; currentLeaderEpoch?: number | null; leaderEpoch: number }
export interface OffsetsForLeaderEpochRequest { replicaId?: number | null; topics: Array<{ name: string; partitions: EpochRequestPartition[] }> }
export interface EpochResultPartition { partition: number; errorCode: number; errorMessage: string; leaderEpoch: number; endOffset: number }
export interface OffsetsForLeaderEpochResponse { topics: Array<{ name: string; partitions: EpochResultPartition[] }> }

export interface ClusterBroker {
  nodeId: number; host: string; port: number; rack: string; alive: boolean; brokerEpoch: number; leaderCount: number; shuttingDown: boolean;
}
export interface DescribeClusterResponse { clusterId: string; controllerId: number; brokers: ClusterBroker[] }

export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;
export interface ElectLeadersRequest { electionType: number; topics?: Array<{ name: string; partitions: number[] }> }
export interface ElectLeadersResponse {
  topics: Array<{ name: string; partitions: Array<{ partition: number; errorCode: number; errorMessage: string }> }>;
}

export interface InitProducerIdRequest { transactionalId?: string; transactionTimeoutMs?: number; producerId?: number | null; producerEpoch?: number | null }
export interface InitProducerIdResponse { errorCode: number; errorMessage: string; producerId: number; producerEpoch: number }
export interface TxnTopicPartitions { name: string; partitions: number[] }
export interface TxnPartitionResult { partition: number; errorCode: number; errorMessage: string }
export interface TxnTopicResult { name: string; partitions: TxnPartitionResult[] }
export interface AddPartitionsToTxnRequest { transactionalId: string; producerId: number; producerEpoch: number; topics: TxnTopicPartitions[] }
export interface AddPartitionsToTxnResponse { topics: TxnTopicResult[] }
export interface AddOffsetsToTxnRequest { transactionalId: string; producerId: number; producerEpoch: number; groupId: string }
export interface AddOffsetsToTxnResponse { errorCode: number; errorMessage: string }
export interface TxnOffsetCommitRequest {
  transactionalId: string; groupId: string; producerId: number; producerEpoch: number; generationId: number; memberId: string; topics: OffsetCommitTopic[];
}
export interface TxnOffsetCommitResponse { topics: Array<{ name: string; partitions: OffsetCommitPartitionResult[] }> }
export interface EndTxnRequest { transactionalId: string; producerId: number; producerEpoch: number; committed: boolean }
export interface EndTxnResponse { errorCode: number; errorMessage: string }
export interface WritableTxnMarker { producerId: number; producerEpoch: number; committed: boolean; topics: TxnTopicPartitions[]; coordinatorEpoch: number }
export interface WriteTxnMarkersRequest { markers: WritableTxnMarker[] }
export interface WriteTxnMarkersResponse { markers: Array<{ producerId: number; topics: TxnTopicResult[] }> }
export interface ListTransactionsRequest { stateFilters?: string[]; producerIdFilters?: number[] }
export interface TransactionListing { transactionalId: string; producerId: number; state: string }
export interface ListTransactionsResponse { errorCode: number; errorMessage: string; transactions: TransactionListing[] }
export interface DescribeTransactionsRequest { transactionalIds: string[] }
export interface TransactionDescription {
  errorCode: number; errorMessage: string; transactionalId: string; state: string; transactionTimeoutMs: number; transactionStartTimeMs: number;
  producerId: number; producerEpoch: number; topics: TxnTopicPartitions[];
}
export interface DescribeTransactionsResponse { transactions: TransactionDescription[] }

/** Share groups (queues on the log): see proto/sluice.proto for what each field means. */
export interface ShareHeartbeatRequest { groupId: string; memberId: string; topics: string[]; leave?: boolean; maxInFlight?: number; sessionTimeoutMs?: number }
export interface ShareHeartbeatResponse { errorCode: number; errorMessage: string; memberId: string; heartbeatIntervalMs: number }
export const ShareAckType = { ACCEPT: 1, RELEASE: 2, REJECT: 3, RENEW: 4 } as const;
export type ShareAckTypeValue = (typeof ShareAckType)[keyof typeof ShareAckType];
export interface ShareAckRange {
  topic: string; partition: number; firstOffset: number; lastOffset: number; type: ShareAckTypeValue; delayMs?: number; reason?: string;
}
export interface ShareAckResult { topic: string; partition: number; firstOffset: number; lastOffset: number; errorCode: number; errorMessage: string }
export interface ShareFetchRequest {
  groupId: string; memberId: string; maxWaitMs: number; maxRecords?: number; maxBytes?: number; lockMs?: number; acks?: ShareAckRange[];
}
export interface ShareAcquiredRange { firstOffset: number; lastOffset: number; deliveryCount: number }
export interface ShareFetchPartitionResult {
  partition: number; errorCode: number; errorMessage: string; acquired: ShareAcquiredRange[]; lockExpiresAtMs: number; records: Buffer;
}
export interface ShareFetchTopicResult { name: string; partitions: ShareFetchPartitionResult[] }
export interface ShareFetchResponse { errorCode: number; errorMessage: string; topics: ShareFetchTopicResult[]; ackResults: ShareAckResult[] }
export interface ShareAcknowledgeRequest { groupId: string; memberId: string; acks: ShareAckRange[] }
export interface ShareAcknowledgeResponse { errorCode: number; errorMessage: string; results: ShareAckResult[] }
export interface DescribeShareGroupRequest { groupId: string }
export interface ShareMemberDescription { memberId: string; clientId: string; host: string; topics: string[]; inFlight: number }
export interface SharePartitionDescription {
  topic: string; partition: number; startOffset: number; endOffset: number; acquired: number; available: number; delayed: number;
  acknowledged: number; deadLettered: number; oldestLockAgeMs: number; skipped: number; deadLetteredByReason: Record<string, number>;
}
export interface DescribeShareGroupResponse {
  errorCode: number; errorMessage: string; groupId: string; state: string; members: ShareMemberDescription[]; partitions: SharePartitionDescription[];
}
export interface AlterGroupConfigsRequest { groupId: string; set?: Record<string, string>; delete?: string[]; validateOnly?: boolean }
export interface AlterGroupConfigsResponse { errorCode: number; errorMessage: string }
export interface DescribeGroupConfigsRequest { groupId: string }
export interface GroupConfigEntry { name: string; value: string; source: 'group' | 'default' }
export interface DescribeGroupConfigsResponse { errorCode: number; errorMessage: string; configs: GroupConfigEntry[] }

/** ListOffsets special timestamps, as Kafka numbers them. */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
/** The record with the highest timestamp (Kafka 3.0+, KIP-734). */
export const MAX_TIMESTAMP = -3;

export interface RequestBodies {
  apiVersions: Record<string, never>;
  metadata: MetadataRequest;
  createTopics: CreateTopicsRequest;
  deleteTopics: DeleteTopicsRequest;
  produce: ProduceRequest;
  fetch: FetchRequest;
  listOffsets: ListOffsetsRequest;
  offsetCommit: OffsetCommitRequest;
  offsetFetch: OffsetFetchRequest;
  listGroups: Record<string, never>;
  joinGroup: JoinGroupRequest;
  syncGroup: SyncGroupRequest;
  heartbeat: HeartbeatRequest;
  leaveGroup: LeaveGroupRequest;
  describeGroups: { groupIds: string[] };
  findCoordinator: { key: string; keyType: number };
  offsetsForLeaderEpoch: OffsetsForLeaderEpochRequest;
  describeCluster: Record<string, never>;
  electLeaders: ElectLeadersRequest;
  initProducerId: InitProducerIdRequest;
  addPartitionsToTxn: AddPartitionsToTxnRequest;
  addOffsetsToTxn: AddOffsetsToTxnRequest;
  endTxn: EndTxnRequest;
  txnOffsetCommit: TxnOffsetCommitRequest;
  writeTxnMarkers: WriteTxnMarkersRequest;
  listTransactions: ListTransactionsRequest;
  describeTransactions: DescribeTransactionsRequest;
  shareHeartbeat: ShareHeartbeatRequest;
  shareFetch: ShareFetchRequest;
  shareAcknowledge: ShareAcknowledgeRequest;
  describeShareGroup: DescribeShareGroupRequest;
  alterGroupConfigs: AlterGroupConfigsRequest;
  describeGroupConfigs: DescribeGroupConfigsRequest;
}

export interface ResponseBodies {
  apiVersions: ApiVersionsResponse;
  metadata: MetadataResponse;
  createTopics: CreateTopicsResponse;
  deleteTopics: DeleteTopicsResponse;
  produce: ProduceResponse;
  fetch: FetchResponse;
  listOffsets: ListOffsetsResponse;
  offsetCommit: OffsetCommitResponse;
  offsetFetch: OffsetFetchResponse;
  listGroups: ListGroupsResponse;
  joinGroup: JoinGroupResponse;
  syncGroup: SyncGroupResponse;
  heartbeat: Record<string, never>;
  leaveGroup: Record<string, never>;
  describeGroups: DescribeGroupsResponse;
  findCoordinator: FindCoordinatorResponse;
  offsetsForLeaderEpoch: OffsetsForLeaderEpochResponse;
  describeCluster: DescribeClusterResponse;
  electLeaders: ElectLeadersResponse;
  initProducerId: InitProducerIdResponse;
  addPartitionsToTxn: AddPartitionsToTxnResponse;
  addOffsetsToTxn: AddOffsetsToTxnResponse;
  endTxn: EndTxnResponse;
  txnOffsetCommit: TxnOffsetCommitResponse;
  writeTxnMarkers: WriteTxnMarkersResponse;
  listTransactions: ListTransactionsResponse;
  describeTransactions: DescribeTransactionsResponse;
  shareHeartbeat: ShareHeartbeatResponse;
  shareFetch: ShareFetchResponse;
  shareAcknowledge: ShareAcknowledgeResponse;
  describeShareGroup: DescribeShareGroupResponse;
  alterGroupConfigs: AlterGroupConfigsResponse;
  describeGroupConfigs: DescribeGroupConfigsResponse;
}

export type BodyField = keyof RequestBodies;

export interface RequestEnvelope {
  api: number;
  version: number;
  correlationId: number;
  clientId: string;
  body?: BodyField;
  [field: string]: unknown;
}

export interface ResponseEnvelope {
  correlationId: number;
  errorCode: number;
  errorMessage: string;
  body?: BodyField;
  [field: string]: unknown;
}
