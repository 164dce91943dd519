/**
 * The group coordinator: membership of consumer groups by Kafka's classic protocol.
 *
 * States: Empty → PreparingRebalance (members rejoin) → CompletingRebalance (the leader
 * assigns) → Stable. A join, a leave or an expired session starts a rebalance; it completes
 * when every known member has rejoined or the longest rebalance timeout has passed (members
 * that did not rejoin are dropped). A new group waits `initialRebalanceDelayMs` first so that
 * members starting together land in one generation. Each completion bumps the generation;
 * requests from an older generation are fenced with ILLEGAL_GENERATION. A static member
 * (group instance id) that comes back while the group is stable gets its old member id and
 * assignment without a rebalance.
 */
import { randomUUID } from 'node:crypto';
import { SluiceError } from '../../proto/errors.js';
import type { JoinGroupRequest, JoinGroupResponse, SyncGroupRequest } from '../../proto/messages.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

const sessionTimeoutMsMin = 1000;
const sessionTimeoutMsMax = 30 * 60 * 1000;

interface Member {
  memberId: string;
  instanceId: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
  assignment: Buffer;
  sessionTimer: NodeJS.Timeout | undefined;
  /** Rejoined during the rebalance under way. */
  joined: boolean;
  pendingJoin: ((response: JoinGroupResponse) => void) | undefined;
  pendingSync: { resolve: (assignment: Buffer) => void; reject: (error: unknown) => void } | undefined;
}

export interface GroupSnapshot {
  groupId: string;
  state: GroupState;
  generationId: number;
  protocolName: string;
  leader: string;
  members: Array<{ memberId: string; groupInstanceId: string; clientId: string; assignment: Buffer }>;
}

class Group {
  readonly id: string;
  state: GroupState = 'Empty';
  generation = 0;
  protocolName = '';
  leader = '';
  readonly members = new Map<string, Member>();
  rebalanceTimer: NodeJS.Timeout | undefined;
  /** The first rebalance of an empty group waits out its delay even when everyone joined. */
  delaying = false;

  constructor(id: string) {
    this.id = id;
  }
}

export class GroupCoordinator {
  readonly #groups = new Map<string, Group>();
  readonly #initialRebalanceDelayMs: number;

  constructor(options: { initialRebalanceDelayMs: number }) {
    this.#initialRebalanceDelayMs = options.initialRebalanceDelayMs;
  }

  #group(groupId: string): Group {
    let group = this.#groups.get(groupId);
    if (group === undefined) {
      group = new Group(groupId);
      this.#groups.set(groupId, group);
    }
    return group;
  }

  join(request: JoinGroupRequest, clientId: string): Promise<JoinGroupResponse> {
    const { sessionTimeoutMs, rebalanceTimeoutMs } = request;
    if (sessionTimeoutMs < sessionTimeoutMsMin || sessionTimeoutMs > sessionTimeoutMsMax) {
      throw new SluiceError('SLUICE_ERR_INVALID_SESSION_TIMEOUT', `session timeout ${sessionTimeoutMs} ms is outside ${sessionTimeoutMsMin}..${sessionTimeoutMsMax}`);
    }
    const group = this.#group(request.groupId);
    const instanceId = request.groupInstanceId ?? '';
    let member = request.memberId === '' ? undefined : group.members.get(request.memberId);
    if (request.memberId !== '' && member === undefined) {
      throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${group.id} has no member ${request.memberId}`);
    }
    if (member === undefined && instanceId !== '') member = [...group.members.values()].find((candidate) => candidate.instanceId === instanceId);
    const names = request.protocols.map((protocol) => protocol.name);
    const others = [...group.members.values()].filter((candidate) => candidate !== member);
    if (others.length > 0 && (others[0]!.protocolType !== request.protocolType || !others.every((other) => other.protocols.some((protocol) => names.includes(protocol.name))))) {
      throw new SluiceError('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL', `group ${group.id} members use other assignors than ${names.join(', ')}`);
    }
    if (member !== undefined && instanceId !== '' && request.memberId === '' && group.state === 'Stable' && sameProtocols(member.protocols, request.protocols)) {
      // A static member back from a restart: same place, same assignment, no rebalance.
      this.#touch(group, member);
      return Promise.resolve(this.#joinResponse(group, member));
    }
    if (member === undefined) {
      member = {
        memberId: `${clientId || 'member'}-${randomUUID()}`, instanceId, clientId, sessionTimeoutMs, rebalanceTimeoutMs,
        protocolType: request.protocolType, protocols: request.protocols, assignment: Buffer.alloc(0),
        sessionTimer: undefined, joined: false, pendingJoin: undefined, pendingSync: undefined,
      };
      group.members.set(member.memberId, member);
    }
    Object.assign(member, { sessionTimeoutMs, rebalanceTimeoutMs, protocols: request.protocols, protocolType: request.protocolType });
    this.#touch(group, member);
    const joiner = member;
    const response = new Promise<JoinGroupResponse>((resolve) => { joiner.pendingJoin = resolve; });
    joiner.joined = true;
    if (group.state !== 'PreparingRebalance') this.#prepareRebalance(group);
    else this.#maybeCompleteJoin(group);
    return response;
  }

  #prepareRebalance(group: Group): void {
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    for (const member of group.members.values()) {
      if (member.pendingJoin === undefined) member.joined = false;
      // Members waiting for an assignment of the old generation must rejoin instead.
      member.pendingSync?.reject(new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', `group ${group.id} is rebalancing`));
      member.pendingSync = undefined;
    }
    clearTimeout(group.rebalanceTimer);
    group.delaying = wasEmpty;
    const longest = Math.max(0, ...[...group.members.values()].map((member) => member.rebalanceTimeoutMs));
    group.rebalanceTimer = setTimeout(() => this.#completeJoin(group), wasEmpty ? this.#initialRebalanceDelayMs : longest);
    if (!wasEmpty) this.#maybeCompleteJoin(group);
  }

  #maybeCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && !group.delaying && [...group.members.values()].every((member) => member.joined)) this.#completeJoin(group);
  }

  #completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    clearTimeout(group.rebalanceTimer);
    group.delaying = false;
    for (const member of [...group.members.values()]) if (!member.joined) this.#remove(group, member, false);
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.generation += 1;
      return;
    }
    group.generation += 1;
    group.state = 'CompletingRebalance';
    const members = [...group.members.values()];
    if (!group.members.has(group.leader)) group.leader = members[0]!.memberId;
    const leader = group.members.get(group.leader)!;
    group.protocolName = leader.protocols.find((protocol) => members.every((member) => member.protocols.some((candidate) => candidate.name === protocol.name)))?.name ?? leader.protocols[0]?.name ?? '';
    for (const member of members) {
      member.joined = false;
      member.assignment = Buffer.alloc(0);
      const resolve = member.pendingJoin;
      member.pendingJoin = undefined;
      resolve?.(this.#joinResponse(group, member));
    }
  }

  #joinResponse(group: Group, member: Member): JoinGroupResponse {
    const isLeader = member.memberId === group.leader;
    return {
      generationId: group.generation,
      protocolName: group.protocolName,
      leader: group.leader,
      memberId: member.memberId,
      members: isLeader ? [...group.members.values()].map((candidate) => ({
        memberId: candidate.memberId,
        groupInstanceId: candidate.instanceId,
        metadata: candidate.protocols.find((protocol) => protocol.name === group.protocolName)?.metadata ?? Buffer.alloc(0),
      })) : [],
    };
  }

  sync(request: SyncGroupRequest): Promise<Buffer> {
    const group = this.#groups.get(request.groupId);
    const member = group?.members.get(request.memberId);
    if (group === undefined || member === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${request.groupId} has no member ${request.memberId}`);
    this.#checkGeneration(group, request.generationId);
    this.#touch(group, member);
    if (group.state === 'PreparingRebalance') throw new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', `group ${group.id} is rebalancing`);
    if (group.state === 'Stable') return Promise.resolve(member.assignment);
    if (member.memberId === group.leader) {
      for (const entry of request.assignments) {
        const target = group.members.get(entry.memberId);
        if (target !== undefined) target.assignment = Buffer.from(entry.assignment);
      }
      group.state = 'Stable';
      for (const waiting of group.members.values()) {
        waiting.pendingSync?.resolve(waiting.assignment);
        waiting.pendingSync = undefined;
      }
      return Promise.resolve(member.assignment);
    }
    return new Promise((resolve, reject) => { member.pendingSync = { resolve, reject }; });
  }

  heartbeat(groupId: string, generationId: number, memberId: string): void {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${groupId} has no member ${memberId}`);
    this.#touch(group, member);
    if (group.state === 'PreparingRebalance') throw new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', `group ${groupId} is rebalancing; rejoin`);
    this.#checkGeneration(group, generationId);
  }

  leave(groupId: string, memberId: string): void {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${groupId} has no member ${memberId}`);
    this.#remove(group, member, true);
  }

  /**
   * Whether an offset commit from this generation and member may be stored: a current member
   * of the current generation, or (generation -1, no member) a group nobody is in.
   */
  checkCommit(groupId: string, generationId: number, memberId: string): void {
    const group = this.#groups.get(groupId);
    if (generationId === -1 && memberId === '') {
      if (group !== undefined && group.members.size > 0) {
        throw new SluiceError('SLUICE_ERR_ILLEGAL_GENERATION', `group ${groupId} has live members; commit as one of them, with its generation`);
      }
      return;
    }
    if (group === undefined || group.members.size === 0) {
      throw new SluiceError('SLUICE_ERR_ILLEGAL_GENERATION', `group ${groupId} has no generation ${generationId}: it has no live members`);
    }
    if (!group.members.has(memberId)) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${groupId} has no member "${memberId}"`);
    this.#checkGeneration(group, generationId);
  }

  #checkGeneration(group: Group, generationId: number): void {
    if (generationId !== group.generation) {
      throw new SluiceError('SLUICE_ERR_ILLEGAL_GENERATION', `group ${group.id} is at generation ${group.generation}, not ${generationId}`);
    }
  }

  /** Restarts the member's session clock; a member silent for its session timeout is removed. */
  #touch(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (group.members.get(member.memberId) !== member) return;
      // A member waiting on a join or sync is alive; it cannot heartbeat while it waits.
      if (member.pendingJoin !== undefined || member.pendingSync !== undefined) this.#touch(group, member);
      else this.#remove(group, member, true);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  #remove(group: Group, member: Member, rebalance: boolean): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    member.pendingSync?.reject(new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `member ${member.memberId} left group ${group.id}`));
    if (!rebalance) return;
    if (group.members.size === 0) {
      clearTimeout(group.rebalanceTimer);
      group.state = 'Empty';
      return;
    }
    if (group.state === 'PreparingRebalance') this.#maybeCompleteJoin(group);
    else this.#prepareRebalance(group);
  }

  groups(): GroupSnapshot[] {
    return [...this.#groups.values()].map((group) => this.describe(group.id)!);
  }

  describe(groupId: string): GroupSnapshot | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    return {
      groupId, state: group.state, generationId: group.generation, protocolName: group.protocolName, leader: group.leader,
      members: [...group.members.values()].map((member) => ({ memberId: member.memberId, groupInstanceId: member.instanceId, clientId: member.clientId, assignment: member.assignment })),
    };
  }

  close(): void {
    for (const group of this.#groups.values()) {
      clearTimeout(group.rebalanceTimer);
      for (const member of group.members.values()) clearTimeout(member.sessionTimer);
    }
  }
}

function sameProtocols(a: Array<{ name: string; metadata: Buffer }>, b: Array<{ name: string; metadata: Buffer }>): boolean {
  return a.length === b.length && a.every((protocol, index) => protocol.name === b[index]!.name && Buffer.compare(protocol.metadata, b[index]!.metadata) === 0);
}
