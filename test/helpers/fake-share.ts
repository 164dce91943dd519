/**
 * A small share-group coordinator for client tests, plugged into FakeCluster (APIs 28–33 on
 * the coordinator broker). Every share-partition starts at offset 0; a fetch applies its acks,
 * then acquires AVAILABLE records (lowest first, up to max_records) for the lock asked (or
 * `lockMs`), and answers with the acquired ranges and the partition's stored batches that
 * hold them. An ack of a record the member does not hold gets INVALID_RECORD_STATE for its
 * range. `expire(memberId)` forgets a member (as a session timeout does) and releases its
 * records. Group configs are kept as given, with no validation.
 */
import { errorCodes } from '../../proto/errors.js';
import {
  Api, type AlterGroupConfigsRequest, type RequestEnvelope, type ShareAckRange, type ShareAckResult, ShareAckType, type ShareAcknowledgeRequest, type ShareFetchRequest,
  type ShareHeartbeatRequest,
} from '../../proto/messages.js';
import type { FakePartition } from './fake-broker.js';

interface Taken { state: 'acquired' | 'acked' | 'archived'; member: string; count: number; lockUntil: number }
type RecordState = Taken | { state: 'available'; count: number; availableAt: number };

interface Member {
  topics: string[];
}

const invalid = errorCodes.SLUICE_ERR_INVALID_RECORD_STATE.wire;
const unknownMember = { errorCode: errorCodes.SLUICE_ERR_UNKNOWN_MEMBER_ID.wire, errorMessage: 'unknown member' };

export class FakeShareCoordinator {
  readonly members = new Map<string, Member>();
  /** `topic/partition` → offset → state. */
  readonly records = new Map<string, Map<number, RecordState>>();
  readonly configs = new Map<string, Record<string, string>>();
  /** Every ack range applied (or refused), in order, with the API that carried it. */
  readonly acks: Array<{ api: number; range: ShareAckRange; errorCode: number }> = [];
  lockMs = 30_000;
  heartbeatIntervalMs = 100;
  #nextMember = 1;
  readonly #partitions: (topic: string) => FakePartition[] | undefined;

  constructor(partitions: (topic: string) => FakePartition[] | undefined) {
    this.#partitions = partitions;
  }

  answer(request: RequestEnvelope): unknown {
    switch (request.api) {
      case Api.SHARE_HEARTBEAT: return this.#heartbeat(request.shareHeartbeat as ShareHeartbeatRequest);
      case Api.SHARE_FETCH: return this.#fetch(request.shareFetch as ShareFetchRequest);
      case Api.SHARE_ACKNOWLEDGE: {
        const ack = request.shareAcknowledge as ShareAcknowledgeRequest;
        if (!this.members.has(ack.memberId)) return { ...unknownMember, results: [] };
        return { errorCode: 0, errorMessage: '', results: this.#applyAcks(ack.memberId, ack.acks ?? [], Api.SHARE_ACKNOWLEDGE) };
      }
      case Api.ALTER_GROUP_CONFIGS: {
        const alter = request.alterGroupConfigs as AlterGroupConfigsRequest;
        const configs = { ...(this.configs.get(alter.groupId) ?? {}), ...(alter.set ?? {}) };
        for (const key of alter.delete ?? []) delete configs[key];
        if (!alter.validateOnly) this.configs.set(alter.groupId, configs);
        return { errorCode: 0, errorMessage: '' };
      }
      case Api.DESCRIBE_GROUP_CONFIGS: {
        const configs = this.configs.get((request.describeGroupConfigs as { groupId: string }).groupId) ?? {};
        return { errorCode: 0, errorMessage: '', configs: Object.entries(configs).map(([name, value]) => ({ name, value, source: 'group' })) };
      }
      default: return undefined;
    }
  }

  /** Forgets a member (its session expired): its records are available again. */
  expire(memberId: string): void {
    this.members.delete(memberId);
    for (const states of this.records.values()) {
      for (const [offset, state] of states) if (state.state === 'acquired' && state.member === memberId) states.set(offset, { state: 'available', count: state.count, availableAt: 0 });
    }
  }

  state(topic: string, partition: number, offset: number): RecordState | undefined {
    return this.records.get(`${topic}/${partition}`)?.get(offset);
  }

  #heartbeat(beat: ShareHeartbeatRequest): unknown {
    let memberId = beat.memberId;
    if (memberId === '') {
      memberId = `share-member-${this.#nextMember}`;
      this.#nextMember += 1;
      this.members.set(memberId, { topics: [...beat.topics] });
    } else if (!this.members.has(memberId)) {
      return { ...unknownMember, memberId: '', heartbeatIntervalMs: 0 };
    }
    if (beat.leave) this.expire(memberId);
    return { errorCode: 0, errorMessage: '', memberId, heartbeatIntervalMs: this.heartbeatIntervalMs };
  }

  #states(topic: string, partition: number): Map<number, RecordState> {
    let states = this.records.get(`${topic}/${partition}`);
    if (states === undefined) this.records.set(`${topic}/${partition}`, states = new Map());
    return states;
  }

  #applyAcks(memberId: string, ranges: ShareAckRange[], api: number): ShareAckResult[] {
    const now = Date.now();
    return ranges.map((range) => {
      const states = this.#states(range.topic, range.partition);
      let held = true;
      for (let offset = range.firstOffset; offset <= range.lastOffset; offset += 1) {
        const state = states.get(offset);
        if (state?.state !== 'acquired' || state.member !== memberId || state.lockUntil <= now) held = false;
      }
      const errorCode = held ? 0 : invalid;
      // Decoded messages keep unset fields (0, '') on their prototype: copy them one by one.
      this.acks.push({ api, range: { topic: range.topic, partition: range.partition, firstOffset: range.firstOffset, lastOffset: range.lastOffset, type: range.type, delayMs: range.delayMs, reason: range.reason }, errorCode });
      if (held) {
        for (let offset = range.firstOffset; offset <= range.lastOffset; offset += 1) {
          const state = states.get(offset) as Taken;
          if (range.type === ShareAckType.ACCEPT) state.state = 'acked';
          else if (range.type === ShareAckType.REJECT) state.state = 'archived';
          else if (range.type === ShareAckType.RENEW) state.lockUntil = now + this.lockMs;
          else states.set(offset, { state: 'available', count: state.count, availableAt: now + (range.delayMs ?? 0) });
        }
      }
      return { topic: range.topic, partition: range.partition, firstOffset: range.firstOffset, lastOffset: range.lastOffset, errorCode, errorMessage: held ? '' : 'not held by this member' };
    });
  }

  #fetch(fetch: ShareFetchRequest): unknown {
    const member = this.members.get(fetch.memberId);
    if (member === undefined) return { ...unknownMember, topics: [], ackResults: [] };
    const ackResults = this.#applyAcks(fetch.memberId, fetch.acks ?? [], Api.SHARE_FETCH);
    const now = Date.now();
    const lockMs = fetch.lockMs || this.lockMs;
    let room = fetch.maxRecords || 500;
    const topics = [];
    for (const topic of member.topics) {
      const partitions = [];
      for (const [partition, log] of (this.#partitions(topic) ?? []).entries()) {
        const states = this.#states(topic, partition);
        const acquired: Array<{ firstOffset: number; lastOffset: number; deliveryCount: number }> = [];
        for (let offset = 0; offset < log.logEnd && room > 0; offset += 1) {
          const state = states.get(offset);
          const free = state === undefined || (state.state === 'available' && state.availableAt <= now) || (state.state === 'acquired' && state.lockUntil <= now);
          if (!free) continue;
          const count = (state?.count ?? 0) + 1;
          states.set(offset, { state: 'acquired', member: fetch.memberId, count, lockUntil: now + lockMs });
          room -= 1;
          const last = acquired.at(-1);
          if (last !== undefined && last.lastOffset === offset - 1 && last.deliveryCount === count) last.lastOffset = offset;
          else acquired.push({ firstOffset: offset, lastOffset: offset, deliveryCount: count });
        }
        if (acquired.length === 0) continue;
        const first = acquired[0]!.firstOffset;
        const last = acquired.at(-1)!.lastOffset;
        const batches = log.batches.filter((batch) => batch.baseOffset + batch.count > first && batch.baseOffset <= last);
        partitions.push({ partition, errorCode: 0, errorMessage: '', acquired, lockExpiresAtMs: now + lockMs, records: Buffer.concat(batches.map((batch) => batch.bytes)) });
      }
      if (partitions.length > 0) topics.push({ name: topic, partitions });
    }
    return { errorCode: 0, errorMessage: '', topics, ackResults };
  }
}
