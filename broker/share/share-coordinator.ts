/**
 * The share coordinator: for the groups of the `__consumer_offsets` partitions this broker
 * leads (the same placement as classic groups, so FindCoordinator key type 0 finds it), their
 * members (ShareHeartbeat; a member silent past its session timeout is removed and its records
 * released), their share-partitions (share-partition.ts) and their configs.
 *
 * Every transition is appended to the group's `__consumer_offsets` partition (share-records.ts,
 * group commit in share-state-log.ts) before it is answered: a fetch's records go out only once
 * their acquisition with its delivery count is committed, an ack is answered once its
 * transition is. Gaining a partition replays its share records; records ACQUIRED at the crash
 * or failover then count as failed attempts (share-partition.ts `recover`), and records left
 * DEAD_LETTERING are looked for in the DLQ's tail before being written again
 * (dead-letter-writer.ts), so dead-lettering is exactly once.
 *
 * One timer (every 50 ms while the coordinator runs) expires locks, makes delayed records
 * available, and ends silent members: a lock fires between its expiry and expiry + 50 ms plus
 * the time of the append.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { errorToWire, SluiceError } from '../../proto/errors.js';
import {
  type AlterGroupConfigsRequest, type DescribeShareGroupResponse, type GroupConfigEntry, type ShareAckRange, type ShareAckResult, ShareAckType,
  type ShareFetchRequest, type ShareFetchResponse, type ShareFetchTopicResult, type ShareHeartbeatRequest, type ShareHeartbeatResponse,
} from '../../proto/messages.js';
import { decodeRecords, readBatchHeader, type RecordInput } from '../../proto/record-batch/record-batch.js';
import type { StopSignal } from '../api/stop-signal.js';
import type { OffsetStore } from '../groups/offset-store.js';
import { offsetsTopic } from '../groups/offsets-topic.js';
import { replayChunk } from '../storage/log-replay.js';
import { type Acquired, acquireFrom } from './acquire.js';
import type { DeadLetterSink } from './dead-letter-sink.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { alteredGroupConfigs, describeGroupConfigs, resolveGroupConfig, type ShareGroupConfig } from './group-configs.js';
import type { PartitionSource } from '../replication/partition-source.js';
import { SharePartition } from './share-partition.js';
import {
  decodeConfigsValue, decodeShareKey, decodeStateValue, encodeConfigsValue, encodeShareKey, encodeStateValue, isShareKey, type ShareCounters, updateSlots,
} from './share-records.js';
import { ShareStateLog } from './share-state-log.js';

const sweepIntervalMs = 50;
const sessionTimeoutMsDefault = 45_000;
const partitionReadBytes = 1024 * 1024;
const fetchWaitMsMax = 60_000;

export interface ShareMember {
  readonly id: string;
  /** Small number the share-partitions store as the holder. */
  readonly number: number;
  clientId: string;
  topics: string[];
  maxInFlight: number;
  sessionTimeoutMs: number;
  lastSeen: number;
  /** Where its next fetch starts among its partitions, so members spread over them. */
  cursor: number;
}

export interface ShareGroup {
  readonly id: string;
  overrides: Record<string, string>;
  config: ShareGroupConfig;
  readonly members: Map<string, ShareMember>;
  nextMember: number;
  /** "topic\0partition" → state */
  readonly partitions: Map<string, SharePartition>;
  /** Parked fetches: called when records may have become available. */
  readonly waiters: Set<() => void>;
}

interface Shard {
  readonly partition: number;
  loading: boolean;
  readonly groups: Map<string, ShareGroup>;
}

export interface ShareCoordinatorOptions {
  offsets: OffsetStore;
  source: PartitionSource;
  sink: DeadLetterSink;
  stopping: StopSignal;
  logger: Logger;
  onClose?: () => void;
}

/** Parked fetches over partitions led elsewhere look again this often (no append reaches them here). */
const remotePollMs = 100;

/** Totals for metrics. */
export interface ShareFigures {
  inFlight: number;
  groups: number;
  members: number;
  counters: ShareCounters;
}

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ShareCoordinator {
  readonly #offsets: OffsetStore;
  readonly #source: PartitionSource;
  readonly #stopping: StopSignal;
  readonly #logger: Logger;
  readonly #onClose: (() => void) | undefined;
  readonly #shards = new Map<number, Shard>();
  readonly log: ShareStateLog;
  readonly #deadLetters: DeadLetterWriter;
  readonly #timer: NodeJS.Timeout;
  readonly #unsubscribe: () => void;

  constructor(options: ShareCoordinatorOptions) {
    this.#offsets = options.offsets;
    this.#source = options.source;
    this.#stopping = options.stopping;
    this.#logger = options.logger;
    this.#onClose = options.onClose;
    const partitions = options.offsets.partitions;
    this.log = new ShareStateLog(partitions);
    this.#deadLetters = new DeadLetterWriter({
      source: options.source, sink: options.sink, logger: options.logger,
      persist: (groupId) => this.#persistGroup(groupId),
      current: (groupId, share) => this.#groupIfLoaded(groupId)?.partitions.get(partitionKey(share.topic, share.partition)) === share,
    });
    for (let partition = 0; partition < partitions.count; partition += 1) {
      if (partitions.leads(partition)) void this.#load(partition, false);
    }
    this.#unsubscribe = partitions.onLeadershipChange((partition, leading) => {
      if (leading) void this.#load(partition, true);
      else this.#unload(partition);
    });
    this.#timer = setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe();
    this.#deadLetters.close();
    this.#onClose?.();
    for (const shard of this.#shards.values()) for (const group of shard.groups.values()) this.#wake(group);
  }

  // ---- loading and unloading with leadership of a __consumer_offsets partition

  async #load(partition: number, yielding: boolean): Promise<void> {
    if (this.#shards.has(partition)) return;
    const shard: Shard = { partition, loading: true, groups: new Map() };
    this.#shards.set(partition, shard);
    const current = () => this.#shards.get(partition) === shard;
    const started = Date.now();
    try {
      if (yielding) await yieldToEventLoop();
      const replica = this.#offsets.partitions.replica(partition);
      for (let offset = replica?.log.logStartOffset ?? 0; current() && replica !== undefined && offset < replica.log.logEndOffset;) {
        offset = replayChunk(replica.log, offset, (batch) => this.#replayBatch(shard, batch));
        if (yielding) await yieldToEventLoop();
      }
      if (!current()) return;
      shard.loading = false;
      this.#resume(shard, Date.now() - started);
    } catch (error) {
      this.#logger.error({ err: error, topic: offsetsTopic, partition }, 'loading share-group state failed; this broker will not coordinate the partition\'s share groups');
      if (current()) this.#shards.delete(partition);
    }
  }

  #replayBatch(shard: Shard, batch: Buffer): void {
    if (readBatchHeader(batch).isControl) return;
    for (const record of decodeRecords(batch)) {
      if (!isShareKey(record.key)) continue;
      try {
        const key = decodeShareKey(record.key);
        const group = this.#groupIn(shard, key.group);
        if (key.kind === 'configs') {
          group.overrides = record.value === null ? {} : decodeConfigsValue(record.value);
          group.config = resolveGroupConfig(group.overrides);
          continue;
        }
        if (record.value === null) {
          group.partitions.delete(partitionKey(key.topic, key.partition));
          continue;
        }
        const value = decodeStateValue(record.value);
        const id = partitionKey(key.topic, key.partition);
        let share = group.partitions.get(id);
        if (share === undefined) {
          share = new SharePartition(key.topic, key.partition, value.start);
          group.partitions.set(id, share);
        }
        share.applyPersisted(value, key.kind === 'snapshot');
      } catch (error) {
        this.#logger.error({ err: error, topic: offsetsTopic, partition: shard.partition, offset: record.offset }, 'skipping an unreadable share-state record');
      }
    }
  }

  /** After a load: in-flight records of the previous coordinator are failed attempts; dead letters resume. */
  #resume(shard: Shard, loadMs: number): void {
    for (const group of shard.groups.values()) {
      for (const share of group.partitions.values()) {
        share.recover(group.config, group.config.dlqTopic !== '');
        this.#deadLetters.recovered(group, share);
      }
      this.#persistQuietly(shard, group);
    }
    let partitions = 0;
    for (const group of shard.groups.values()) partitions += group.partitions.size;
    this.#logger.info({ topic: offsetsTopic, partition: shard.partition, groups: shard.groups.size, sharePartitions: partitions, loadMs }, 'share-group state loaded');
  }

  #unload(partition: number): void {
    const shard = this.#shards.get(partition);
    if (shard === undefined) return;
    this.#shards.delete(partition);
    for (const group of shard.groups.values()) this.#wake(group);
  }

  // ---- groups

  #groupIn(shard: Shard, groupId: string): ShareGroup {
    let group = shard.groups.get(groupId);
    if (group === undefined) {
      group = { id: groupId, overrides: {}, config: resolveGroupConfig({}), members: new Map(), nextMember: 0, partitions: new Map(), waiters: new Set() };
      shard.groups.set(groupId, group);
    }
    return group;
  }

  /** The group's shard; NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS as for classic groups. */
  #shardFor(groupId: string): Shard {
    if (groupId.length === 0 || groupId.length > 255) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'a group id is 1 to 255 characters');
    this.#offsets.checkCoordinator(groupId);
    const partition = this.#offsets.partitionFor(groupId);
    const shard = this.#shards.get(partition);
    if (shard === undefined || shard.loading) {
      throw new SluiceError('SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS', `share state of group ${groupId} (partition ${partition} of ${offsetsTopic}) is still loading; retry shortly`);
    }
    return shard;
  }

  #groupIfLoaded(groupId: string): ShareGroup | undefined {
    const shard = this.#shards.get(this.#offsets.partitionFor(groupId));
    return shard === undefined || shard.loading ? undefined : shard.groups.get(groupId);
  }

  /** The share groups of the loaded shards, for ListGroups. */
  listings(): Array<{ groupId: string; state: string; members: number }> {
    const listings = [];
    for (const shard of this.#shards.values()) {
      if (shard.loading) continue;
      for (const group of shard.groups.values()) {
        if (group.members.size === 0 && group.partitions.size === 0) continue;
        listings.push({ groupId: group.id, state: group.members.size > 0 ? 'Stable' : 'Empty', members: group.members.size });
      }
    }
    return listings;
  }

  /** Whether the id names a share group here (members or share state): JoinGroup refuses it. */
  isShareGroup(groupId: string): boolean {
    const group = this.#groupIfLoaded(groupId);
    return group !== undefined && (group.members.size > 0 || group.partitions.size > 0);
  }

  /**
   * DeleteGroups of a share group with no members: its state and configs are tombstoned in the
   * state log (every key it may have used, so compaction leaves nothing of it) and forgotten.
   * False when the id names no share group here (the caller tries the classic group).
   */
  async deleteGroup(groupId: string): Promise<boolean> {
    const shard = this.#shardFor(groupId);
    const group = shard.groups.get(groupId);
    if (group === undefined || (group.members.size === 0 && group.partitions.size === 0 && Object.keys(group.overrides).length === 0)) return false;
    if (group.members.size > 0) throw new SluiceError('SLUICE_ERR_NON_EMPTY_GROUP', `share group ${groupId} has ${group.members.size} members; stop them first`);
    for (const share of group.partitions.values()) {
      if (share.deadLettering(1).length > 0) {
        throw new SluiceError('SLUICE_ERR_NON_EMPTY_GROUP', `share group ${groupId} is still writing dead letters of ${share.topic}-${share.partition}; retry shortly`);
      }
    }
    const records: RecordInput[] = [{ key: encodeShareKey({ kind: 'configs', group: groupId }), value: null }];
    for (const share of group.partitions.values()) {
      const where = { group: groupId, topic: share.topic, partition: share.partition };
      records.push({ key: encodeShareKey({ kind: 'snapshot', ...where }), value: null });
      for (let slot = 0; slot < updateSlots; slot += 1) records.push({ key: encodeShareKey({ kind: 'update', ...where, slot }), value: null });
    }
    shard.groups.delete(groupId);
    this.#wake(group);
    await this.log.append(shard.partition, records);
    this.#logger.info({ group: groupId, sharePartitions: group.partitions.size }, 'share group deleted');
    return true;
  }

  #member(group: ShareGroup, memberId: string): ShareMember {
    const member = group.members.get(memberId);
    if (member === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `share group ${group.id} has no member ${memberId}; join again with an empty member id`);
    return member;
  }

  // ---- persistence

  /** Appends what changed in the group's share-partitions; resolves once committed. */
  #persist(shard: Shard, group: ShareGroup): Promise<void> {
    const records: RecordInput[] = [];
    const now = Date.now();
    for (const share of group.partitions.values()) {
      const update = share.takeUpdate();
      if (update === undefined) continue;
      const key = update.snapshot
        ? encodeShareKey({ kind: 'snapshot', group: group.id, topic: share.topic, partition: share.partition })
        : encodeShareKey({ kind: 'update', group: group.id, topic: share.topic, partition: share.partition, slot: update.slot });
      records.push({ key, value: encodeStateValue(update.value), timestamp: now });
    }
    return this.log.append(shard.partition, records);
  }

  #persistGroup(groupId: string): Promise<void> {
    const shard = this.#shards.get(this.#offsets.partitionFor(groupId));
    const group = shard?.groups.get(groupId);
    if (shard === undefined || group === undefined) return Promise.reject(new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker no longer coordinates group ${groupId}`));
    return this.#persist(shard, group);
  }

  #persistQuietly(shard: Shard, group: ShareGroup): void {
    this.#persist(shard, group).catch((error: unknown) => this.#logger.warn({ err: error, group: group.id }, 'appending share state failed'));
  }

  #wake(group: ShareGroup): void {
    for (const waiter of [...group.waiters]) waiter();
  }

  // ---- share-partitions

  /** The group's state of the partition, made at share.auto.offset.reset on first use. */
  #share(group: ShareGroup, topic: string, partition: number, start: () => number): SharePartition {
    const id = partitionKey(topic, partition);
    let share = group.partitions.get(id);
    if (share === undefined) {
      share = new SharePartition(topic, partition, start());
      group.partitions.set(id, share);
    }
    return share;
  }

  async #startOffset(group: ShareGroup, topic: string, partition: number): Promise<SharePartition> {
    const existing = group.partitions.get(partitionKey(topic, partition));
    if (existing !== undefined) return existing;
    const bounds = await this.#source.bounds(topic, partition);
    return this.#share(group, topic, partition, () => (group.config.autoOffsetReset === 'earliest' ? bounds.logStartOffset : bounds.highWatermark));
  }

  /** Share-partitions of every partition of the member's topics (those that exist). */
  async #subscribe(group: ShareGroup, topics: string[]): Promise<void> {
    for (const topic of topics) {
      const count = this.#source.partitionCount(topic) ?? 0;
      for (let partition = 0; partition < count; partition += 1) {
        try {
          await this.#startOffset(group, topic, partition);
        } catch (error) {
          this.#logger.debug({ err: error, group: group.id, topic, partition }, 'share-partition not started yet');
        }
      }
    }
  }

  #inFlight(group: ShareGroup, member: ShareMember): number {
    let held = 0;
    for (const share of group.partitions.values()) held += share.heldBy(member.number);
    return held;
  }

  // ---- requests

  async heartbeat(request: ShareHeartbeatRequest, clientId: string, classic: { inUse(groupId: string): boolean }): Promise<ShareHeartbeatResponse> {
    const shard = this.#shardFor(request.groupId);
    const existing = shard.groups.get(request.groupId);
    if ((existing === undefined || existing.members.size === 0) && classic.inUse(request.groupId)) {
      throw new SluiceError('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL', `group ${request.groupId} is a classic consumer group; a share group needs another id`);
    }
    const group = this.#groupIn(shard, request.groupId);
    const now = Date.now();
    if (request.leave === true) {
      const member = group.members.get(request.memberId);
      if (member !== undefined) await this.#removeMember(shard, group, member, 'left');
      return { errorCode: 0, errorMessage: '', memberId: request.memberId, heartbeatIntervalMs: 0 };
    }
    let member: ShareMember;
    if (request.memberId === '') {
      member = {
        id: crypto.randomUUID(), number: group.nextMember++, clientId, topics: [], maxInFlight: 0, sessionTimeoutMs: sessionTimeoutMsDefault, lastSeen: now, cursor: 0,
      };
      group.members.set(member.id, member);
      this.#logger.info({ group: group.id, member: member.id, topics: request.topics }, 'share member joined');
    } else member = this.#member(group, request.memberId);
    member.lastSeen = now;
    member.topics = [...new Set(request.topics)].sort();
    member.maxInFlight = request.maxInFlight ?? 0;
    member.sessionTimeoutMs = request.sessionTimeoutMs !== undefined && request.sessionTimeoutMs > 0 ? request.sessionTimeoutMs : sessionTimeoutMsDefault;
    await this.#subscribe(group, member.topics);
    await this.#persist(shard, group);
    return { errorCode: 0, errorMessage: '', memberId: member.id, heartbeatIntervalMs: Math.max(100, Math.min(5000, Math.floor(member.sessionTimeoutMs / 3))) };
  }

  async #removeMember(shard: Shard, group: ShareGroup, member: ShareMember, why: string): Promise<void> {
    group.members.delete(member.id);
    const now = Date.now();
    let released = 0;
    for (const share of group.partitions.values()) {
      const outcome = share.releaseMember(member.number, group.config, group.config.dlqTopic !== '', now);
      released += outcome.redeliverable + outcome.deadLettering;
      if (outcome.deadLettering > 0) this.#deadLetters.kick(group, share);
    }
    this.#logger.info({ group: group.id, member: member.id, released, why }, 'share member removed');
    this.#wake(group);
    await this.#persist(shard, group);
  }

  async acknowledge(groupId: string, memberId: string, acks: ShareAckRange[]): Promise<ShareAckResult[]> {
    const shard = this.#shardFor(groupId);
    const group = shard.groups.get(groupId);
    if (group === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `share group ${groupId} has no member ${memberId}`);
    const member = this.#member(group, memberId);
    member.lastSeen = Date.now();
    const results = this.#applyAcks(group, member, acks);
    await this.#persist(shard, group);
    return results;
  }

  #applyAcks(group: ShareGroup, member: ShareMember, acks: ShareAckRange[]): ShareAckResult[] {
    const now = Date.now();
    const hasDlq = group.config.dlqTopic !== '';
    let freed = false;
    const results = acks.map((ack): ShareAckResult => {
      const result: ShareAckResult = { topic: ack.topic, partition: ack.partition, firstOffset: ack.firstOffset, lastOffset: ack.lastOffset, errorCode: 0, errorMessage: '' };
      const share = group.partitions.get(partitionKey(ack.topic, ack.partition));
      const problem = share === undefined ? `group ${group.id} has no state for ${ack.topic}-${ack.partition}` : share.notHeld(ack.firstOffset, ack.lastOffset, member.number);
      if (problem !== undefined || share === undefined) {
        const error = new SluiceError('SLUICE_ERR_INVALID_RECORD_STATE', `${ack.topic}-${ack.partition} ${ack.firstOffset}-${ack.lastOffset}: ${problem}`);
        return { ...result, errorCode: error.wireCode, errorMessage: error.detail };
      }
      switch (ack.type) {
        case ShareAckType.ACCEPT:
          share.accept(ack.firstOffset, ack.lastOffset);
          break;
        case ShareAckType.RELEASE: {
          const outcome = share.fail(ack.firstOffset, ack.lastOffset, group.config, hasDlq, now, ack.delayMs ?? 0);
          if (outcome.deadLettering > 0) this.#deadLetters.kick(group, share);
          freed = true;
          break;
        }
        case ShareAckType.REJECT:
          if (ack.reason !== undefined && ack.reason !== '') this.#deadLetters.note(group, share, ack.firstOffset, ack.lastOffset, ack.reason);
          share.reject(ack.firstOffset, ack.lastOffset, hasDlq);
          this.#deadLetters.kick(group, share);
          break;
        case ShareAckType.RENEW:
          share.renew(ack.firstOffset, ack.lastOffset, now + group.config.lockDurationMs);
          break;
        default: {
          const error = new SluiceError('SLUICE_ERR_INVALID_REQUEST', `ack type ${String(ack.type)} is not ACCEPT (1), RELEASE (2), REJECT (3) or RENEW (4)`);
          return { ...result, errorCode: error.wireCode, errorMessage: error.detail };
        }
      }
      return result;
    });
    if (freed) this.#wake(group);
    return results;
  }

  async fetch(request: ShareFetchRequest): Promise<ShareFetchResponse> {
    const shard = this.#shardFor(request.groupId);
    const group = shard.groups.get(request.groupId);
    if (group === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `share group ${request.groupId} has no member ${request.memberId}; join again`);
    const member = this.#member(group, request.memberId);
    member.lastSeen = Date.now();
    const ackResults = this.#applyAcks(group, member, request.acks ?? []);
    const acksPersisted = this.#persist(shard, group);
    acksPersisted.catch(() => {});
    const deadline = Date.now() + Math.min(request.maxWaitMs, fetchWaitMsMax);
    let topics = await this.#acquire(group, member, request);
    while (topics.length === 0 && Date.now() < deadline && !this.#stopping.stopped && group.members.get(member.id) === member && this.#shards.get(shard.partition) === shard) {
      await this.#waitForWork(group, member, deadline - Date.now());
      // The member's own leave wakes its parked fetch: acquiring then would lock records for nobody.
      if (this.#shards.get(shard.partition) !== shard || group.members.get(member.id) !== member) break;
      topics = await this.#acquire(group, member, request);
    }
    await Promise.all([acksPersisted, this.#persist(shard, group)]);
    if (this.#shards.get(shard.partition) !== shard) throw new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker no longer coordinates group ${group.id}; find its coordinator again`);
    return { errorCode: 0, errorMessage: '', topics, ackResults };
  }

  async #acquire(group: ShareGroup, member: ShareMember, request: ShareFetchRequest): Promise<ShareFetchTopicResult[]> {
    const config = group.config;
    const cap = Math.min(member.maxInFlight > 0 ? member.maxInFlight : config.memberMaxInFlight, config.memberMaxInFlight);
    let room = cap - this.#inFlight(group, member);
    if (request.maxRecords !== undefined && request.maxRecords > 0) room = Math.min(room, request.maxRecords);
    if (room <= 0) return [];
    const lockMs = request.lockMs !== undefined && request.lockMs > 0 ? Math.min(request.lockMs, 3_600_000) : config.lockDurationMs;
    const readBytes = request.maxBytes !== undefined && request.maxBytes > 0 ? Math.min(request.maxBytes, partitionReadBytes) : partitionReadBytes;
    const places: Array<{ topic: string; partition: number }> = [];
    for (const topic of member.topics) {
      const count = this.#source.partitionCount(topic) ?? 0;
      for (let partition = 0; partition < count; partition += 1) places.push({ topic, partition });
    }
    const results = new Map<string, ShareFetchTopicResult>();
    const hasDlq = config.dlqTopic !== '';
    member.cursor = (member.cursor + 1) % Math.max(1, places.length);
    for (let index = 0; index < places.length && room > 0; index += 1) {
      const { topic, partition } = places[(member.cursor + index) % places.length]!;
      const now = Date.now();
      const acquired: Acquired = { ranges: [], batches: [], count: 0, expired: 0 };
      let error: unknown;
      try {
        const share = await this.#startOffset(group, topic, partition);
        const sweep = share.sweep(now, config, hasDlq);
        if (sweep.deadLettering > 0) this.#deadLetters.kick(group, share);
        const limits = { member: member.number, room, maxWindow: config.partitionMaxWindow, now, lockExpiry: now + lockMs, hasDlq };
        const present = () => group.members.get(member.id) === member;
        const lowest = share.availableOffsets(1)[0];
        if (lowest !== undefined) {
          const read = await this.#source.read(topic, partition, lowest, readBytes);
          if (!present()) break;
          acquireFrom(share, read, limits, acquired);
        }
        if (limits.room > 0 && share.canAdd(share.end, config.partitionMaxWindow)) {
          const read = await this.#source.read(topic, partition, share.end, readBytes);
          if (!present()) break;
          const seen = new Set(acquired.batches.map((batch) => readBatchHeader(batch).baseOffset));
          const before = acquired.batches.length;
          acquireFrom(share, read, limits, acquired);
          acquired.batches.splice(before, acquired.batches.length - before, ...acquired.batches.slice(before).filter((batch) => !seen.has(readBatchHeader(batch).baseOffset)));
        }
        if (acquired.expired > 0) this.#deadLetters.kick(group, share);
        room = limits.room;
      } catch (caught) {
        if (!SluiceError.is(caught)) this.#logger.error({ err: caught, group: group.id, topic, partition }, 'acquiring share records failed');
        error = caught;
      }
      if (acquired.count === 0 && error === undefined) continue;
      let entry = results.get(topic);
      if (entry === undefined) {
        entry = { name: topic, partitions: [] };
        results.set(topic, entry);
      }
      const errorFields = error === undefined ? { errorCode: 0, errorMessage: '' } : errorToWire(error);
      entry.partitions.push({ partition, ...errorFields, acquired: acquired.ranges, lockExpiresAtMs: now + lockMs, records: Buffer.concat(acquired.batches) });
    }
    // A failing partition alone is no reason to answer before max wait: report it with records, or after waiting.
    const out = [...results.values()];
    return out.some((topic) => topic.partitions.some((partition) => partition.acquired.length > 0)) ? out : [];
  }

  /** Parks a fetch until records may be available: appends to its partitions, releases, expiries, or the wait ends. */
  #waitForWork(group: ShareGroup, member: ShareMember, waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const unsubscribes: Array<() => void> = [];
      const done = () => {
        clearTimeout(timer);
        group.waiters.delete(done);
        for (const unsubscribe of unsubscribes) unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, waitMs));
      group.waiters.add(done);
      unsubscribes.push(this.#stopping.onStop(done));
      let remote = false;
      for (const topic of member.topics) {
        const count = this.#source.partitionCount(topic) ?? 0;
        for (let partition = 0; partition < count; partition += 1) {
          const replica = this.#source.ledHere(topic, partition);
          if (replica === undefined) remote = true;
          else unsubscribes.push(replica.onHighWatermark(done));
        }
      }
      if (remote && waitMs > remotePollMs) {
        const poll = setTimeout(done, remotePollMs);
        unsubscribes.push(() => clearTimeout(poll));
      }
    });
  }

  // ---- timers

  #sweep(): void {
    const now = Date.now();
    for (const shard of this.#shards.values()) {
      if (shard.loading) continue;
      for (const group of shard.groups.values()) {
        for (const member of [...group.members.values()]) {
          if (now - member.lastSeen > member.sessionTimeoutMs) {
            this.#removeMember(shard, group, member, 'session timed out').catch((error: unknown) => this.#logger.warn({ err: error, group: group.id }, 'appending share state failed'));
          }
        }
        let changed = false;
        for (const share of group.partitions.values()) {
          if (share.nextDeadline > now) continue;
          const outcome = share.sweep(now, group.config, group.config.dlqTopic !== '');
          if (outcome.deadLettering > 0) this.#deadLetters.kick(group, share);
          if (outcome.madeAvailable + outcome.redeliverable + outcome.deadLettering > 0) changed = true;
        }
        if (!changed) continue;
        this.#persistQuietly(shard, group);
        this.#wake(group);
      }
    }
  }

  // ---- describe and configs

  describe(groupId: string): DescribeShareGroupResponse {
    const shard = this.#shardFor(groupId);
    const group = shard.groups.get(groupId);
    const now = Date.now();
    if (group === undefined) return { errorCode: 0, errorMessage: '', groupId, state: 'Dead', members: [], partitions: [] };
    return {
      errorCode: 0, errorMessage: '', groupId, state: group.members.size > 0 ? 'Stable' : 'Empty',
      members: [...group.members.values()].map((member) => ({ memberId: member.id, clientId: member.clientId, host: '', topics: member.topics, inFlight: this.#inFlight(group, member) })),
      partitions: [...group.partitions.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition).map((share) => {
        const figures = share.describe(now);
        const counters = share.counters;
        return {
          topic: share.topic, partition: share.partition, startOffset: share.start, endOffset: share.end,
          acquired: figures.acquired, available: figures.available, delayed: figures.delayed,
          acknowledged: counters.acknowledged, deadLettered: counters.rejected + counters.deliveryLimit + counters.expired,
          oldestLockAgeMs: figures.oldestLockAgeMs, skipped: counters.skipped,
          deadLetteredByReason: { rejected: counters.rejected, delivery_limit: counters.deliveryLimit, expired: counters.expired },
        };
      }),
    };
  }

  describeConfigs(groupId: string): GroupConfigEntry[] {
    const shard = this.#shardFor(groupId);
    return describeGroupConfigs(shard.groups.get(groupId)?.overrides ?? {});
  }

  /** Checked, appended, then in force. */
  async alterConfigs(request: AlterGroupConfigsRequest): Promise<void> {
    const shard = this.#shardFor(request.groupId);
    const current = shard.groups.get(request.groupId)?.overrides ?? {};
    const next = alteredGroupConfigs(current, request.set ?? {}, request.delete ?? []);
    if (request.validateOnly === true) return;
    await this.log.append(shard.partition, [{ key: encodeShareKey({ kind: 'configs', group: request.groupId }), value: encodeConfigsValue(next), timestamp: Date.now() }]);
    const group = this.#groupIn(shard, request.groupId);
    group.overrides = next;
    group.config = resolveGroupConfig(next);
    this.#logger.info({ group: request.groupId, configs: next }, 'share group configs altered');
    // Records waiting for a DLQ go to the new one, or are dropped when there is none now.
    for (const share of group.partitions.values()) this.#deadLetters.kick(group, share);
  }

  figures(): ShareFigures {
    const counters: ShareCounters = { acknowledged: 0, rejected: 0, deliveryLimit: 0, expired: 0, dropped: 0, skipped: 0, redelivered: 0 };
    let inFlight = 0;
    let groups = 0;
    let members = 0;
    for (const shard of this.#shards.values()) {
      for (const group of shard.groups.values()) {
        groups += 1;
        members += group.members.size;
        for (const share of group.partitions.values()) {
          for (const name of Object.keys(counters) as Array<keyof ShareCounters>) counters[name] += share.counters[name];
          inFlight += share.describe(0).acquired;
        }
      }
    }
    return { inFlight, groups, members, counters };
  }
}

