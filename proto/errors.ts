/**
 * The one registry of Sluice error codes, shared by broker and client.
 *
 * Each entry carries the numeric code sent on the wire (Kafka's number where Kafka has the
 * same error, so people can look it up; 1000+ for Sluice's own), whether a retry can help,
 * and a hint that tells a person what to do. Keys equal codes; a code is never reused.
 */
export const errorCodes = {
  SLUICE_ERR_UNKNOWN: { wire: -1, retriable: false, hint: 'an unexpected server error; see the broker log' },
  SLUICE_ERR_OFFSET_OUT_OF_RANGE: { wire: 1, retriable: false, hint: 'seek to an offset inside the valid range' },
  SLUICE_ERR_CORRUPT_MESSAGE: { wire: 2, retriable: false, hint: 'the record batch failed its CRC or layout checks; rebuild it' },
  SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION: { wire: 3, retriable: false, hint: 'create the topic first, or check the partition number' },
  SLUICE_ERR_REQUEST_TIMED_OUT: { wire: 7, retriable: true, hint: 'the operation did not finish in time; retry' },
  SLUICE_ERR_MESSAGE_TOO_LARGE: { wire: 10, retriable: false, hint: 'send smaller batches or raise max.message.bytes' },
  SLUICE_ERR_INVALID_TOPIC: { wire: 17, retriable: false, hint: 'topic names are 1..249 characters of [a-zA-Z0-9._-], not "." or ".."' },
  SLUICE_ERR_INVALID_TIMESTAMP: { wire: 32, retriable: false, hint: 'fix the record timestamps' },
  SLUICE_ERR_UNSUPPORTED_VERSION: { wire: 35, retriable: false, hint: 'upgrade the client or the broker' },
  SLUICE_ERR_INVALID_REQUEST: { wire: 42, retriable: false, hint: 'the request is malformed; check the client' },
  SLUICE_ERR_UNSUPPORTED_COMPRESSION: { wire: 76, retriable: false, hint: 'use compression none, gzip, snappy, lz4 or zstd' },
  SLUICE_ERR_INVALID_RECORD: { wire: 87, retriable: false, hint: 'the batch breaks a RecordBatch v2 rule; rebuild it' },
  SLUICE_ERR_STORAGE: { wire: 1000, retriable: true, hint: 'the broker could not read or write its data directory; check disk space and permissions' },
  SLUICE_ERR_LOG_CLOSED: { wire: 1001, retriable: true, hint: 'the partition log was closed (shutdown or deletion); retry against a live broker' },
  SLUICE_ERR_CONFIG: { wire: 1002, retriable: false, hint: 'fix the configuration value named in the message' },
  SLUICE_ERR_INVALID_REQUIRED_ACKS: { wire: 21, retriable: false, hint: 'acks must be 0, 1 or -1 (all)' },
  SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL: { wire: 23, retriable: false, hint: 'members of one group must share a protocol type and at least one assignor' },
  SLUICE_ERR_UNKNOWN_MEMBER_ID: { wire: 25, retriable: false, hint: 'the group no longer knows this member (it timed out or left); join again' },
  SLUICE_ERR_INVALID_SESSION_TIMEOUT: { wire: 26, retriable: false, hint: 'sessionTimeoutMs must be between 1000 and 1800000' },
  SLUICE_ERR_REBALANCE_IN_PROGRESS: { wire: 27, retriable: true, hint: 'the group is rebalancing; rejoin to get a new assignment' },
  SLUICE_ERR_FENCED_INSTANCE_ID: { wire: 82, retriable: false, hint: 'another instance with this group.instance.id replaced this one; stop it' },
  SLUICE_ERR_ILLEGAL_GENERATION: { wire: 22, retriable: false, hint: 'the member is not part of the group\'s current generation; rejoin before committing' },
  SLUICE_ERR_NON_EMPTY_GROUP: { wire: 68, retriable: false, hint: 'the group still has live members; stop its consumers before deleting it' },
  SLUICE_ERR_GROUP_ID_NOT_FOUND: { wire: 69, retriable: false, hint: 'no such group on its coordinator; check the group id' },
  SLUICE_ERR_TOPIC_ALREADY_EXISTS: { wire: 36, retriable: false, hint: 'pick another name, or delete the topic first' },
  SLUICE_ERR_POLICY_VIOLATION: { wire: 44, retriable: false, hint: 'the broker\'s policy refuses this request (the message names the limit and how to raise it)' },
  SLUICE_ERR_INVALID_PARTITIONS: { wire: 37, retriable: false, hint: 'a topic needs 1 to 10000 partitions' },
  SLUICE_ERR_FRAME_TOO_LARGE: { wire: 1003, retriable: false, hint: 'send smaller requests or raise the broker\'s --max-frame-bytes' },
  SLUICE_ERR_MALFORMED_FRAME: { wire: 1004, retriable: false, hint: 'the frame is not a valid Sluice protobuf message; check the client' },
  SLUICE_ERR_UNKNOWN_API: { wire: 1005, retriable: false, hint: 'the broker does not know this API; upgrade the broker' },
  SLUICE_ERR_TOO_MANY_REQUESTS: { wire: 1006, retriable: true, hint: 'wait for responses before sending more on this connection' },
  SLUICE_ERR_BROKER_SHUTTING_DOWN: { wire: 1007, retriable: true, hint: 'the broker is stopping; retry once it is back' },
  SLUICE_ERR_LEADER_NOT_AVAILABLE: { wire: 5, retriable: true, hint: 'the partition has no leader right now (an election is running, or every in-sync replica is down); retry after refreshing metadata' },
  SLUICE_ERR_NOT_LEADER_OR_FOLLOWER: { wire: 6, retriable: true, hint: 'this broker does not lead that partition; refresh metadata and send to the leader' },
  SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS: { wire: 14, retriable: true, hint: 'the group coordinator is still loading committed offsets; retry shortly' },
  SLUICE_ERR_COORDINATOR_NOT_AVAILABLE: { wire: 15, retriable: true, hint: 'the group\'s coordinator is not available; find the coordinator again and retry' },
  SLUICE_ERR_NOT_COORDINATOR: { wire: 16, retriable: true, hint: 'this broker does not coordinate that group; find the coordinator again and retry' },
  SLUICE_ERR_NOT_ENOUGH_REPLICAS: { wire: 19, retriable: true, hint: 'fewer in-sync replicas than min.insync.replicas; nothing was written; retry once replicas are back, or use acks=1' },
  SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: { wire: 20, retriable: true, hint: 'the leader wrote the batch but the in-sync replicas fell below min.insync.replicas before it was replicated; retrying may write it twice' },
  SLUICE_ERR_INVALID_REPLICATION_FACTOR: { wire: 38, retriable: false, hint: 'the replication factor must be between 1 and the number of live brokers' },
  SLUICE_ERR_NOT_CONTROLLER: { wire: 41, retriable: true, hint: 'this broker is not the controller; refresh metadata and send to the controller' },
  SLUICE_ERR_FENCED_LEADER_EPOCH: { wire: 74, retriable: true, hint: 'the request carried an older leader epoch than the partition\'s; refresh metadata and retry' },
  SLUICE_ERR_UNKNOWN_LEADER_EPOCH: { wire: 75, retriable: true, hint: 'the request carried a newer leader epoch than this broker knows; retry once it has caught up' },
  SLUICE_ERR_STALE_BROKER_EPOCH: { wire: 77, retriable: false, hint: 'the broker registration this request came from was replaced; the broker must register again' },
  SLUICE_ERR_OFFSET_NOT_AVAILABLE: { wire: 78, retriable: true, hint: 'a new leader has not yet caught its high watermark up; retry shortly' },
  SLUICE_ERR_PREFERRED_LEADER_NOT_AVAILABLE: { wire: 80, retriable: true, hint: 'the preferred replica is not alive or not in sync; retry once it has caught up' },
  SLUICE_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE: { wire: 83, retriable: true, hint: 'no live replica may lead this partition; bring an in-sync replica back' },
  SLUICE_ERR_ELECTION_NOT_NEEDED: { wire: 84, retriable: false, hint: 'the partition already has the leader asked for' },
  SLUICE_ERR_INVALID_UPDATE_VERSION: { wire: 95, retriable: false, hint: 'the partition state changed since it was read; read it again' },
  SLUICE_ERR_INELIGIBLE_REPLICA: { wire: 107, retriable: false, hint: 'a proposed in-sync replica is not registered, is shutting down, or has a stale broker epoch' },
  SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER: { wire: 45, retriable: false, hint: 'the broker expected another sequence number from this producer (a batch before it was lost); an idempotent producer resends from the gap' },
  SLUICE_ERR_DUPLICATE_SEQUENCE_NUMBER: { wire: 46, retriable: false, hint: 'the batch was already written; nothing to do' },
  SLUICE_ERR_INVALID_PRODUCER_EPOCH: { wire: 47, retriable: false, hint: 'a newer instance of this producer id has written since; this one is stale: close it and start a new producer' },
  SLUICE_ERR_INVALID_TXN_STATE: { wire: 48, retriable: false, hint: 'the transaction is not in a state that allows this call (e.g. commit without begin); begin a transaction first, or abort it' },
  SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING: { wire: 49, retriable: false, hint: 'the producer id does not belong to this transactional id; call initTransactions again' },
  SLUICE_ERR_INVALID_TRANSACTION_TIMEOUT: { wire: 50, retriable: false, hint: 'transactionTimeoutMs must be between 1 and the broker\'s transaction.max.timeout.ms (15 min by default)' },
  SLUICE_ERR_CONCURRENT_TRANSACTIONS: { wire: 51, retriable: true, hint: 'the previous transaction of this transactional id is still completing; retry shortly' },
  SLUICE_ERR_TRANSACTION_COORDINATOR_FENCED: { wire: 52, retriable: false, hint: 'a newer transaction coordinator took over; retry against it' },
  SLUICE_ERR_UNKNOWN_PRODUCER_ID: { wire: 59, retriable: false, hint: 'the broker no longer has this producer\'s state (it expired or its records were deleted); the producer must start a new sequence' },
  SLUICE_ERR_UNSTABLE_OFFSET_COMMIT: { wire: 88, retriable: true, hint: 'a transaction that commits offsets for this partition is still open; retry once it ends' },
  SLUICE_ERR_PRODUCER_FENCED: { wire: 90, retriable: false, hint: 'another producer with the same transactional id started (a newer epoch); this one is a zombie: close it' },
  SLUICE_ERR_INVALID_RECORD_STATE: { wire: 121, retriable: false, hint: 'the member does not hold that record (its lock expired, it was never acquired, or it is already finished); fetch again' },
  SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND: { wire: 105, retriable: false, hint: 'no transaction coordinator knows this transactional id; check the id' },
  SLUICE_ERR_METADATA_STORE: { wire: 1008, retriable: true, hint: 'the cluster\'s etcd is unreachable; produce and fetch go on, elections and topic changes wait for it' },
  SLUICE_ERR_KAFKA_PROTOCOL: { wire: 1104, retriable: false, hint: 'a Kafka protocol message does not parse for the API key and version in its header, or a value does not fit its field; check the client, or report the frame' },
  SLUICE_ERR_CONNECTION: { wire: 1100, retriable: true, hint: 'check that a broker listens at the bootstrap address' },
  SLUICE_ERR_TIMEOUT: { wire: 1101, retriable: true, hint: 'the broker did not answer in time; it may be overloaded or unreachable' },
  SLUICE_ERR_ABORTED: { wire: 1102, retriable: false, hint: 'the operation was cancelled by its AbortSignal or by close()' },
  SLUICE_ERR_CONSUMER_PROTOCOL: { wire: 1103, retriable: false, hint: 'group subscription or assignment bytes are not Kafka\'s ConsumerProtocol, or a value does not fit it; every member of a group must speak it (Kafka consumers and current Sluice clients do)' },
} as const satisfies Record<string, { wire: number; retriable: boolean; hint: string }>;

export type ErrorCode = keyof typeof errorCodes;

const errorBrand = Symbol.for('sluice.error');

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly wireCode: number;
  readonly retriable: boolean;
  /** The message without the hint: what travels on the wire. */
  readonly detail: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${message} (${code}: ${errorCodes[code].hint})`, options);
    this.name = 'SluiceError';
    this.code = code;
    this.detail = message;
    this.wireCode = errorCodes[code].wire;
    this.retriable = errorCodes[code].retriable;
  }

  /** True for Sluice errors even when two copies of the library are loaded. */
  static is(value: unknown): value is SluiceError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[errorBrand] === true;
  }
}
Object.defineProperty(SluiceError.prototype, errorBrand, { value: true });

/** A batch or record whose bytes cannot be trusted: bad length, magic, CRC, or layout. */
export class CorruptRecordError extends SluiceError {
  constructor(message: string, code: 'SLUICE_ERR_CORRUPT_MESSAGE' | 'SLUICE_ERR_INVALID_RECORD' = 'SLUICE_ERR_CORRUPT_MESSAGE') {
    super(code, message);
    this.name = 'CorruptRecordError';
  }
}

/** A read below the log start or past the log end; carries both bounds so callers can seek. */
export class OffsetOutOfRangeError extends SluiceError {
  readonly offset: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;

  constructor(offset: number, logStartOffset: number, logEndOffset: number) {
    super('SLUICE_ERR_OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside the log's range [${logStartOffset}, ${logEndOffset})`);
    this.name = 'OffsetOutOfRangeError';
    this.offset = offset;
    this.logStartOffset = logStartOffset;
    this.logEndOffset = logEndOffset;
  }
}

const codeByWire = new Map<number, ErrorCode>(
  (Object.entries(errorCodes) as Array<[ErrorCode, { wire: number }]>).map(([code, entry]) => [entry.wire, code]),
);

/** The error a client raises for an error code a broker sent. */
export function errorFromWire(wireCode: number, message: string): SluiceError {
  const code = codeByWire.get(wireCode) ?? 'SLUICE_ERR_UNKNOWN';
  return new SluiceError(code, message || `broker error ${wireCode}`);
}

/** The wire code and message a broker sends for any error a handler threw. */
export function errorToWire(error: unknown): { errorCode: number; errorMessage: string } {
  if (SluiceError.is(error)) return { errorCode: error.wireCode, errorMessage: error.detail };
  return { errorCode: errorCodes.SLUICE_ERR_UNKNOWN.wire, errorMessage: 'internal broker error; see the broker log' };
}
