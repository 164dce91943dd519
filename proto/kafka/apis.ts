/**
 * The registry of Kafka APIs Sluice serves: per API key its name, request and response schemas,
 * the versions Sluice serves, and the header versions those use.
 *
 * Served ranges: from the baseline Kafka 4.0 still serves (KIP-896: what 2.1-era and newer
 * clients send) — lower where the old versions cost nothing and some client may use them —
 * up to Kafka 3.9's maximum. KafkaJS 2.2.4 speaks only old, non-flexible versions (Produce ≤ 7,
 * Fetch ≤ 11, Metadata ≤ 6, …); librdkafka 2.0.2 and @platformatic/kafka prefer flexible ones;
 * each client picks the highest version both sides know, so one range serves them all. The
 * schemas describe more versions than are served (old ones, and some of Kafka 4.0's): raising
 * a maximum here is a decision about semantics, not about bytes.
 */
import { versionBounds, type MessageSchema } from './schema.js';
import { addOffsetsToTxnRequest, addOffsetsToTxnResponse } from './messages/add-offsets-to-txn.js';
import { addPartitionsToTxnRequest, addPartitionsToTxnResponse } from './messages/add-partitions-to-txn.js';
import { apiVersionsRequest, apiVersionsResponse } from './messages/api-versions.js';
import { createPartitionsRequest, createPartitionsResponse } from './messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from './messages/create-topics.js';
import { deleteGroupsRequest, deleteGroupsResponse } from './messages/delete-groups.js';
import { deleteRecordsRequest, deleteRecordsResponse } from './messages/delete-records.js';
import { deleteTopicsRequest, deleteTopicsResponse } from './messages/delete-topics.js';
import { describeClusterRequest, describeClusterResponse } from './messages/describe-cluster.js';
import { describeConfigsRequest, describeConfigsResponse } from './messages/describe-configs.js';
import { describeGroupsRequest, describeGroupsResponse } from './messages/describe-groups.js';
import { describeTransactionsRequest, describeTransactionsResponse } from './messages/describe-transactions.js';
import { endTxnRequest, endTxnResponse } from './messages/end-txn.js';
import { fetchRequest, fetchResponse } from './messages/fetch.js';
import { findCoordinatorRequest, findCoordinatorResponse } from './messages/find-coordinator.js';
import { heartbeatRequest, heartbeatResponse } from './messages/heartbeat.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from './messages/incremental-alter-configs.js';
import { initProducerIdRequest, initProducerIdResponse } from './messages/init-producer-id.js';
import { writeTxnMarkersRequest, writeTxnMarkersResponse } from './messages/write-txn-markers.js';
import { joinGroupRequest, joinGroupResponse } from './messages/join-group.js';
import { leaveGroupRequest, leaveGroupResponse } from './messages/leave-group.js';
import { listGroupsRequest, listGroupsResponse } from './messages/list-groups.js';
import { listOffsetsRequest, listOffsetsResponse } from './messages/list-offsets.js';
import { listTransactionsRequest, listTransactionsResponse } from './messages/list-transactions.js';
import { metadataRequest, metadataResponse } from './messages/metadata.js';
import { offsetCommitRequest, offsetCommitResponse } from './messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from './messages/offset-fetch.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from './messages/offset-for-leader-epoch.js';
import { produceRequest, produceResponse } from './messages/produce.js';
import { syncGroupRequest, syncGroupResponse } from './messages/sync-group.js';
import { txnOffsetCommitRequest, txnOffsetCommitResponse } from './messages/txn-offset-commit.js';

export interface KafkaApi<Req extends MessageSchema = MessageSchema, Res extends MessageSchema = MessageSchema> {
  readonly apiKey: number;
  /** Kafka's name for the API (`Produce`, `ApiVersions`, …). */
  readonly name: string;
  readonly request: Req;
  readonly response: Res;
  /** The lowest version Sluice serves. */
  readonly minVersion: number;
  /** The highest version Sluice serves. */
  readonly maxVersion: number;
  /**
   * The lowest version ApiVersions announces; below `minVersion` only for Produce, which Kafka
   * 4.0 also announces from v0 because older librdkafka releases misjudge a broker that does
   * not (KAFKA-18659) — requests of those versions are still refused.
   */
  readonly advertisedMinVersion: number;
  /** The first version with compact encodings, tagged fields and request header v2. */
  readonly firstFlexibleVersion: number;
}

function defineApi<Req extends MessageSchema, Res extends MessageSchema>(
  name: string,
  request: Req,
  response: Res,
  served: { min: number; max: number; advertisedMin?: number },
): KafkaApi<Req, Res> {
  const requestVersions = versionBounds(request.validVersions);
  const responseVersions = versionBounds(response.validVersions);
  const firstFlexible = versionBounds(request.flexibleVersions).min;
  // Schema consistency, checked once at load: a mistake here would break every request.
  if (request.apiKey !== response.apiKey || request.type !== 'request' || response.type !== 'response') {
    throw new Error(`registry bug: ${name} schemas do not pair up`);
  }
  if (versionBounds(response.flexibleVersions).min !== firstFlexible) {
    throw new Error(`registry bug: ${name} request and response become flexible at different versions`);
  }
  const advertisedMin = served.advertisedMin ?? served.min;
  for (const bounds of [requestVersions, responseVersions]) {
    if (advertisedMin < bounds.min || served.max > bounds.max) {
      throw new Error(`registry bug: ${name} serves versions its schemas lack`);
    }
  }
  return {
    apiKey: request.apiKey,
    name,
    request,
    response,
    minVersion: served.min,
    maxVersion: served.max,
    advertisedMinVersion: advertisedMin,
    firstFlexibleVersion: firstFlexible,
  };
}

export const kafkaApis = {
  produce: defineApi('Produce', produceRequest, produceResponse, { min: 3, max: 11, advertisedMin: 0 }),
  fetch: defineApi('Fetch', fetchRequest, fetchResponse, { min: 4, max: 17 }),
  listOffsets: defineApi('ListOffsets', listOffsetsRequest, listOffsetsResponse, { min: 1, max: 9 }),
  metadata: defineApi('Metadata', metadataRequest, metadataResponse, { min: 0, max: 12 }),
  offsetCommit: defineApi('OffsetCommit', offsetCommitRequest, offsetCommitResponse, { min: 2, max: 9 }),
  offsetFetch: defineApi('OffsetFetch', offsetFetchRequest, offsetFetchResponse, { min: 1, max: 9 }),
  findCoordinator: defineApi('FindCoordinator', findCoordinatorRequest, findCoordinatorResponse, { min: 0, max: 5 }),
  joinGroup: defineApi('JoinGroup', joinGroupRequest, joinGroupResponse, { min: 2, max: 9 }),
  heartbeat: defineApi('Heartbeat', heartbeatRequest, heartbeatResponse, { min: 0, max: 4 }),
  leaveGroup: defineApi('LeaveGroup', leaveGroupRequest, leaveGroupResponse, { min: 0, max: 5 }),
  syncGroup: defineApi('SyncGroup', syncGroupRequest, syncGroupResponse, { min: 0, max: 5 }),
  describeGroups: defineApi('DescribeGroups', describeGroupsRequest, describeGroupsResponse, { min: 0, max: 5 }),
  listGroups: defineApi('ListGroups', listGroupsRequest, listGroupsResponse, { min: 0, max: 5 }),
  apiVersions: defineApi('ApiVersions', apiVersionsRequest, apiVersionsResponse, { min: 0, max: 4 }),
  createTopics: defineApi('CreateTopics', createTopicsRequest, createTopicsResponse, { min: 2, max: 7 }),
  deleteTopics: defineApi('DeleteTopics', deleteTopicsRequest, deleteTopicsResponse, { min: 1, max: 6 }),
  deleteRecords: defineApi('DeleteRecords', deleteRecordsRequest, deleteRecordsResponse, { min: 0, max: 2 }),
  initProducerId: defineApi('InitProducerId', initProducerIdRequest, initProducerIdResponse, { min: 0, max: 5 }),
  addPartitionsToTxn: defineApi('AddPartitionsToTxn', addPartitionsToTxnRequest, addPartitionsToTxnResponse, { min: 0, max: 3 }),
  addOffsetsToTxn: defineApi('AddOffsetsToTxn', addOffsetsToTxnRequest, addOffsetsToTxnResponse, { min: 0, max: 3 }),
  endTxn: defineApi('EndTxn', endTxnRequest, endTxnResponse, { min: 0, max: 3 }),
  txnOffsetCommit: defineApi('TxnOffsetCommit', txnOffsetCommitRequest, txnOffsetCommitResponse, { min: 0, max: 3 }),
  offsetForLeaderEpoch: defineApi('OffsetForLeaderEpoch', offsetForLeaderEpochRequest, offsetForLeaderEpochResponse, { min: 2, max: 4 }),
  describeConfigs: defineApi('DescribeConfigs', describeConfigsRequest, describeConfigsResponse, { min: 1, max: 4 }),
  createPartitions: defineApi('CreatePartitions', createPartitionsRequest, createPartitionsResponse, { min: 0, max: 3 }),
  deleteGroups: defineApi('DeleteGroups', deleteGroupsRequest, deleteGroupsResponse, { min: 0, max: 2 }),
  incrementalAlterConfigs: defineApi('IncrementalAlterConfigs', incrementalAlterConfigsRequest, incrementalAlterConfigsResponse, { min: 0, max: 1 }),
  describeCluster: defineApi('DescribeCluster', describeClusterRequest, describeClusterResponse, { min: 0, max: 1 }),
  describeTransactions: defineApi('DescribeTransactions', describeTransactionsRequest, describeTransactionsResponse, { min: 0, max: 0 }),
  listTransactions: defineApi('ListTransactions', listTransactionsRequest, listTransactionsResponse, { min: 0, max: 1 }),
  writeTxnMarkers: defineApi('WriteTxnMarkers', writeTxnMarkersRequest, writeTxnMarkersResponse, { min: 0, max: 1 }),
} as const;

/** Kafka's API keys of the APIs in the registry. */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  InitProducerId: 22,
  OffsetForLeaderEpoch: 23,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  WriteTxnMarkers: 27,
  TxnOffsetCommit: 28,
  DescribeConfigs: 32,
  CreatePartitions: 37,
  DeleteGroups: 42,
  IncrementalAlterConfigs: 44,
  DescribeCluster: 60,
  DescribeTransactions: 65,
  ListTransactions: 66,
} as const;

const byKey = new Map<number, KafkaApi>(Object.values(kafkaApis).map((api) => [api.apiKey, api]));

/** The registry entry for an API key, or undefined for one Sluice does not serve. */
export function kafkaApi(apiKey: number): KafkaApi | undefined {
  return byKey.get(apiKey);
}

/** True when Sluice serves `version` of the API. */
export function isVersionServed(apiKey: number, version: number): boolean {
  const api = byKey.get(apiKey);
  return api !== undefined && version >= api.minVersion && version <= api.maxVersion;
}

/**
 * The request header version of a request: 2 (with tagged fields) for flexible versions, else 1.
 * Also for versions Sluice does not serve (a too-new ApiVersions request still parses), and 1
 * for API keys it does not know, whose header cannot be read further than the client id.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  const api = byKey.get(apiKey);
  return api !== undefined && apiVersion >= api.firstFlexibleVersion ? 2 : 1;
}

/** The response header version: 1 for flexible versions, else 0 — and always 0 for ApiVersions. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0;
  const api = byKey.get(apiKey);
  return api !== undefined && apiVersion >= api.firstFlexibleVersion ? 1 : 0;
}

/**
 * The version to answer an ApiVersions request of `requestedVersion` with: the same when
 * served, else 0 — a broker answers a version it does not know with UNSUPPORTED_VERSION in
 * the v0 layout, still listing its ranges, and the client retries with a version from them.
 */
export function apiVersionsResponseVersion(requestedVersion: number): number {
  return isVersionServed(ApiKey.ApiVersions, requestedVersion) ? requestedVersion : 0;
}

/** The ApiKeys list of an ApiVersions response, by API key. */
export function advertisedApiVersions(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
  return [...byKey.values()]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((api) => ({ apiKey: api.apiKey, minVersion: api.advertisedMinVersion, maxVersion: api.maxVersion }));
}
