import { SluiceError } from '../../proto/errors.js';

/**
 * Per-partition log settings. Defaults are Kafka's, except where noted; the dotted names are
 * the topic-config keys users type (`segment.bytes=…`), the fields are what the code reads.
 */
export interface LogConfig {
  /** segment.bytes: roll before a segment would grow past this. */
  segmentBytes: number;
  /** segment.ms: roll once the segment's first batch is older than this. */
  segmentMs: number;
  /** retention.ms: delete sealed segments whose newest record is older; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete oldest sealed segments while the log is larger; -1 = no limit. */
  retentionBytes: number;
  /** index.interval.bytes: one offset/time index entry per this many log bytes. */
  indexIntervalBytes: number;
  /** segment.index.bytes: largest size of each index file; a full index rolls the segment. */
  segmentIndexBytes: number;
  /** flush.messages: sync once this many records are unsynced; Infinity = leave it to the OS. */
  flushMessages: number;
  /** flush.ms: sync unsynced records after at most this long; Infinity = leave it to the OS. */
  flushMs: number;
  /** max.message.bytes: the largest batch a producer may append. */
  maxMessageBytes: number;
  /** How often the retention timer runs (log.retention.check.interval.ms). */
  retentionCheckIntervalMs: number;
  /** cleanup.policy: delete old segments, compact to the last record per key, or both. */
  cleanupPolicy: CleanupPolicy;
  /** delete.retention.ms: how long a compacted topic keeps a tombstone (a null value). */
  deleteRetentionMs: number;
  /**
   * message.timestamp.type: CreateTime keeps the producer's timestamps; LogAppendTime has the
   * broker stamp each batch with its clock when it appends it.
   */
  messageTimestampType: TimestampType;
  /** message.timestamp.before.max.ms: refuse a CreateTime record older than this; Infinity = any age. */
  messageTimestampBeforeMaxMs: number;
  /**
   * message.timestamp.after.max.ms: refuse a CreateTime record further ahead of the broker's
   * clock than this (Kafka 3.6+; one hour by default as in Kafka 4), so a bad clock cannot
   * pin a segment past retention or roll a segment per batch.
   */
  messageTimestampAfterMaxMs: number;
  /**
   * min.cleanable.dirty.ratio: a compacted log is cleaned once its dirty bytes (written since
   * the last pass) exceed this share of its sealed bytes, in [0, 1].
   */
  minCleanableDirtyRatio: number;
  /**
   * log.cleaner.dedupe.buffer.size, a broker setting (not a topic config): bytes of the
   * cleaner's offset map, 24 per key. One cleaner runs per broker, so this is the whole
   * broker's cost. Default 32 MiB (~1.26 M keys per pass; Kafka's is 128 MiB over its cleaner
   * threads); a dirty part with more keys is cleaned over several passes.
   */
  cleanerDedupeBufferBytes: number;
  /**
   * producer.id.expiration.ms, a broker setting (not a topic config): a producer id with no open
   * transaction and nothing written for this long is forgotten by each partition (1 day, Kafka's).
   */
  producerIdExpirationMs: number;
  /**
   * A broker setting too: the producer ids a partition keeps at most (Redpanda's
   * max_concurrent_producer_ids); past it the least recently active one with no open
   * transaction is forgotten. Bounds the memory a client minting producer ids can take.
   */
  maxProducerIdsPerPartition: number;
  /**
   * min.insync.replicas: an acks=all produce needs this many in-sync replicas (capped by the
   * replica count); below it the leader refuses it and stops moving its high watermark.
   */
  minInsyncReplicas: number;
  /**
   * unclean.leader.election.enable: with no in-sync replica left, promote the most caught-up
   * live replica anyway (losing acknowledged records) instead of leaving the partition offline.
   */
  uncleanLeaderElectionEnable: boolean;
  /**
   * message.ttl.ms: a share group never hands out a record older than this (by its timestamp)
   * and dead-letters it as `expired`; -1: no TTL. Classic consumers and retention ignore it.
   */
  messageTtlMs: number;
  /**
   * delayed.delivery.enable: a record produced with an `x-delay-ms` or `x-deliver-at` header is
   * held in the timer log and appended to its partition when due, instead of at once.
   */
  delayedDeliveryEnable: boolean;
  /** delayed.delivery.max.ms: a record due further ahead than this is refused (7 days). */
  delayedDeliveryMaxMs: number;
}

export type TimestampType = 'CreateTime' | 'LogAppendTime';
const timestampTypes: readonly TimestampType[] = ['CreateTime', 'LogAppendTime'];

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
const cleanupPolicies: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete'];

export const defaultLogConfig: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  flushMessages: Infinity,
  flushMs: Infinity,
  maxMessageBytes: 1024 * 1024 + 12,
  retentionCheckIntervalMs: 5 * 60 * 1000,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 24 * 3600 * 1000,
  messageTimestampType: 'CreateTime',
  messageTimestampBeforeMaxMs: Infinity,
  messageTimestampAfterMaxMs: 3600 * 1000,
  minCleanableDirtyRatio: 0.5,
  cleanerDedupeBufferBytes: 32 * 1024 * 1024,
  producerIdExpirationMs: 24 * 3600 * 1000,
  maxProducerIdsPerPartition: 10_000,
  minInsyncReplicas: 1,
  uncleanLeaderElectionEnable: false,
  messageTtlMs: -1,
  delayedDeliveryEnable: false,
  delayedDeliveryMaxMs: 7 * 24 * 3600 * 1000,
});

/** The smallest offset map: two slots of 24 bytes. */
const cleanerDedupeBufferBytesMin = 48;

/** Positions in a segment are u32 on disk, and Buffer offsets must stay below 2 GiB. */
export const segmentBytesMax = 2 ** 31 - 1;

/** The topic-config keys Kafka users know, mapped to our fields. */
export const logConfigKeys: Readonly<Record<string, keyof LogConfig>> = Object.freeze({
  'segment.bytes': 'segmentBytes',
  'segment.ms': 'segmentMs',
  'retention.ms': 'retentionMs',
  'retention.bytes': 'retentionBytes',
  'index.interval.bytes': 'indexIntervalBytes',
  'segment.index.bytes': 'segmentIndexBytes',
  'flush.messages': 'flushMessages',
  'flush.ms': 'flushMs',
  'max.message.bytes': 'maxMessageBytes',
  'cleanup.policy': 'cleanupPolicy',
  'delete.retention.ms': 'deleteRetentionMs',
  'message.timestamp.type': 'messageTimestampType',
  'message.timestamp.before.max.ms': 'messageTimestampBeforeMaxMs',
  'message.timestamp.after.max.ms': 'messageTimestampAfterMaxMs',
  'min.cleanable.dirty.ratio': 'minCleanableDirtyRatio',
  'min.insync.replicas': 'minInsyncReplicas',
  'unclean.leader.election.enable': 'uncleanLeaderElectionEnable',
  'message.ttl.ms': 'messageTtlMs',
  'delayed.delivery.enable': 'delayedDeliveryEnable',
  'delayed.delivery.max.ms': 'delayedDeliveryMaxMs',
});

/** Fields that hold true or false. */
const booleanFields = ['uncleanLeaderElectionEnable', 'delayedDeliveryEnable'] as const;
type BooleanField = (typeof booleanFields)[number];

export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...defaultLogConfig, ...overrides };
  const positive = (name: Exclude<keyof LogConfig, 'cleanupPolicy' | 'messageTimestampType' | BooleanField>, max = Infinity): void => {
    const value = config[name];
    if (!(value > 0) || value > max || (Number.isFinite(value) && !Number.isInteger(value))) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `${name} must be a positive integer ≤ ${max}, got ${value}`);
    }
  };
  positive('segmentBytes', segmentBytesMax);
  positive('segmentMs');
  positive('indexIntervalBytes');
  positive('segmentIndexBytes', segmentBytesMax);
  positive('flushMessages');
  positive('flushMs');
  positive('maxMessageBytes', segmentBytesMax);
  positive('retentionCheckIntervalMs');
  positive('cleanerDedupeBufferBytes', segmentBytesMax);
  positive('producerIdExpirationMs');
  positive('maxProducerIdsPerPartition', 2 ** 31 - 1);
  positive('minInsyncReplicas', 2 ** 31 - 1);
  positive('delayedDeliveryMaxMs');
  for (const name of booleanFields) {
    if (typeof config[name] !== 'boolean') throw new SluiceError('SLUICE_ERR_CONFIG', `${name} must be true or false, got ${String(config[name])}`);
  }
  if (!Number.isInteger(config.messageTtlMs) || config.messageTtlMs < -1 || config.messageTtlMs === 0) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `message.ttl.ms must be -1 (no TTL) or a positive integer of milliseconds, got ${config.messageTtlMs}`);
  }
  if (config.cleanerDedupeBufferBytes < cleanerDedupeBufferBytesMin) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `cleanerDedupeBufferBytes (log.cleaner.dedupe.buffer.size) must be at least ${cleanerDedupeBufferBytesMin}, got ${config.cleanerDedupeBufferBytes}`);
  }
  if (!(config.minCleanableDirtyRatio >= 0 && config.minCleanableDirtyRatio <= 1)) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `min.cleanable.dirty.ratio must be between 0 and 1, got ${config.minCleanableDirtyRatio}`);
  }
  if (!Number.isInteger(config.deleteRetentionMs) || config.deleteRetentionMs < 0) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `deleteRetentionMs must be a non-negative integer, got ${config.deleteRetentionMs}`);
  }
  for (const name of ['messageTimestampBeforeMaxMs', 'messageTimestampAfterMaxMs'] as const) {
    const value = config[name];
    if (!(value >= 0) || (Number.isFinite(value) && !Number.isInteger(value))) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `${name} must be a non-negative integer of milliseconds (or max), got ${value}`);
    }
  }
  if (!timestampTypes.includes(config.messageTimestampType)) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `message.timestamp.type must be ${timestampTypes.join(' or ')}, got "${config.messageTimestampType}"`);
  }
  if (!cleanupPolicies.includes(config.cleanupPolicy)) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `cleanup.policy must be one of ${cleanupPolicies.join(', ')}, got "${config.cleanupPolicy}"`);
  }
  for (const name of ['retentionMs', 'retentionBytes'] as const) {
    const value = config[name];
    if (!Number.isInteger(value) || value < -1) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `${name} must be -1 (unlimited) or a non-negative integer, got ${value}`);
    }
  }
  if (config.segmentIndexBytes < 16) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `segmentIndexBytes must hold at least one entry, got ${config.segmentIndexBytes}`);
  }
  return config;
}

/** Parses `key=value` topic configs (as the CLI and CreateTopics carry them) into overrides. */
export function parseLogConfigEntries(entries: Record<string, string>): Partial<LogConfig> {
  const overrides: Partial<LogConfig> = {};
  for (const [key, text] of Object.entries(entries)) {
    const field = logConfigKeys[key];
    if (field === undefined) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `unknown topic config "${key}"; known: ${Object.keys(logConfigKeys).join(', ')}`);
    }
    if (field === 'cleanupPolicy') {
      const policy = text.split(',').map((part) => part.trim()).sort().join(',') as CleanupPolicy;
      if (!cleanupPolicies.includes(policy)) throw new SluiceError('SLUICE_ERR_CONFIG', `cleanup.policy must be delete, compact or compact,delete, got "${text}"`);
      overrides.cleanupPolicy = policy;
      continue;
    }
    if ((booleanFields as readonly string[]).includes(field)) {
      if (text !== 'true' && text !== 'false') throw new SluiceError('SLUICE_ERR_CONFIG', `${key} must be true or false, got "${text}"`);
      overrides[field as BooleanField] = text === 'true';
      continue;
    }
    if (field === 'messageTimestampType') {
      if (!timestampTypes.includes(text as TimestampType)) throw new SluiceError('SLUICE_ERR_CONFIG', `message.timestamp.type must be CreateTime or LogAppendTime, got "${text}"`);
      overrides.messageTimestampType = text as TimestampType;
      continue;
    }
    const value = text === 'Infinity' || text === 'max' ? Infinity : Number(text);
    if (Number.isNaN(value) || text.trim() === '') {
      throw new SluiceError('SLUICE_ERR_CONFIG', `topic config ${key} must be a number, got "${text}"`);
    }
    (overrides as Record<string, number>)[field] = value;
  }
  return overrides;
}
