/**
 * The group coordinator: membership of consumer groups by Kafka's classic protocol. Which
 * state a group moves to on each event, and what happens on the way, is the table in
 * group-state.ts; this class keeps the members and timers, works out the facts an event
 * carries, and carries out the actions the table names.
 *
 * A rebalance completes when every known member has rejoined or the longest rebalance
 * timeout has passed (members that did not rejoin are dropped); a new group first waits
 * `initialRebalanceDelayMs` so that members starting together land in one generation. Each
 * completion bumps the generation; requests from an older one get ILLEGAL_GENERATION.
 *
 * Static members (KIP-345): an instance that rejoins with its group instance id and no member
 * id is a restart. It gets a new member id and the old member's place; the old id is fenced,
 * so a zombie of the old process gets FENCED_INSTANCE_ID on every heartbeat, sync, leave and
 * commit instead of sharing the partitions. In a Stable group whose protocols it matches, it
 * keeps the old assignment without a rebalance. Requests other than JoinGroup carry no group
 * instance id, so the coordinator remembers each group's fenced member ids.
 */
import { randomUUID } from 'node:crypto';
import { SluiceError } from '../../proto/errors.js';
import type { JoinGroupRequest, JoinGroupResponse, SyncGroupRequest } from '../../proto/messages.js';
import { type GroupAction, type GroupEvent, type GroupState, transition } from './group-state.js';
import { checkMemberTimeouts, checkTimerSetting } from './group-timeouts.js';

export type { GroupState } from './group-state.js';

/** Fenced member ids remembered per group; past this the oldest are forgotten (and then get UNKNOWN_MEMBER_ID). */
const fencedMemberIdsMax = 1000;

interface Protocol {
  name: string;
  metadata: Buffer;
}

interface Waiting<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

interface Member {
  memberId: string;
  instanceId: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  assignment: Buffer;
  sessionTimer: NodeJS.Timeout | undefined;
  /** Set while its JoinGroup waits for the rebalance: the member has rejoined. */
  pendingJoin: Waiting<JoinGroupResponse> | undefined;
  pendingSync: Waiting<Buffer> | undefined;
}

export interface GroupSnapshot {
  groupId: string;
  state: GroupState;
  generationId: number;
  /** The members' protocol type ("consumer" for consumer groups); '' while the group has no members. */
  protocolType: string;
  protocolName: string;
  leader: string;
  /** metadata: what the member announced for the group's protocol (opaque to the broker). */
  members: Array<{ memberId: string; groupInstanceId: string; clientId: string; metadata: Buffer; assignment: Buffer }>;
}

class Group {
  readonly id: string;
  state: GroupState = 'Empty';
  /** When the group last became Empty; its offsets expire a retention period after. */
  emptySinceMs: number;
  generation = 0;
  protocolName = '';
  leader = '';
  readonly members = new Map<string, Member>();
  /** Member ids replaced by a restart of their static instance → the instance id. */
  readonly fenced = new Map<string, string>();
  rebalanceTimer: NodeJS.Timeout | undefined;
  /** The initial delay of a new group is running: it waits it out even when everyone joined. */
  delaying = false;

  constructor(id: string, now: number) {
    this.id = id;
    this.emptySinceMs = now;
  }
}

/** What an event is about besides the group; actions fill in what they produce. */
interface Subject {
  member?: Member;
  join?: { request: JoinGroupRequest; clientId: string };
  generationId?: number;
  assignments?: SyncGroupRequest['assignments'];
  joined?: Promise<JoinGroupResponse>;
  assignment?: Promise<Buffer>;
}

export interface CoordinatorOptions {
  initialRebalanceDelayMs: number;
  /** The clock for group emptiness times; tests inject one. */
  now?: () => number;
}

export class GroupCoordinator {
  readonly #groups = new Map<string, Group>();
  #closed = false;
  readonly #initialRebalanceDelayMs: number;
  readonly #now: () => number;

  constructor(options: CoordinatorOptions) {
    this.#initialRebalanceDelayMs = checkTimerSetting('group.initial.rebalance.delay.ms', options.initialRebalanceDelayMs);
    this.#now = options.now ?? Date.now;
  }

  join(request: JoinGroupRequest, clientId: string): Promise<JoinGroupResponse> {
    this.#checkOpen();
    checkMemberTimeouts(request.sessionTimeoutMs, request.rebalanceTimeoutMs);
    let group = this.#groups.get(request.groupId);
    if (group === undefined) {
      group = new Group(request.groupId, this.#now());
      this.#groups.set(group.id, group);
    }
    const instanceId = request.groupInstanceId ?? '';
    let member: Member | undefined;
    let kind: 'new' | 'known' | 'staticReplacement' = 'new';
    if (request.memberId !== '') {
      member = this.#member(group, request.memberId);
      kind = 'known';
    } else if (instanceId !== '') {
      member = [...group.members.values()].find((candidate) => candidate.instanceId === instanceId);
      if (member !== undefined) kind = 'staticReplacement';
    }
    const names = request.protocols.map((protocol) => protocol.name);
    const others = [...group.members.values()].filter((candidate) => candidate !== member);
    if (others.length > 0 && (others[0]!.protocolType !== request.protocolType || !others.every((other) => other.protocols.some((protocol) => names.includes(protocol.name))))) {
      throw new SluiceError('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL', `group ${group.id} members use other assignors than ${names.join(', ')}`);
    }
    const subject: Subject = { join: { request, clientId }, ...(member === undefined ? {} : { member }) };
    this.#dispatch(group, {
      type: 'join',
      member: kind,
      keepsProtocol: member !== undefined && group.protocolName === protocolWith(group, member, request.protocols),
      completesJoin: !group.delaying && others.every((other) => other.pendingJoin !== undefined),
    }, subject);
    return subject.joined!;
  }

  sync(request: SyncGroupRequest): Promise<Buffer> {
    this.#checkOpen();
    const group = this.#knownGroup(request.groupId, request.memberId);
    const member = this.#member(group, request.memberId);
    const subject: Subject = { member, generationId: request.generationId, assignments: request.assignments };
    this.#dispatch(group, { type: member.memberId === group.leader ? 'syncFromLeader' : 'syncFromFollower' }, subject);
    return subject.assignment!;
  }

  heartbeat(groupId: string, generationId: number, memberId: string): void {
    const group = this.#knownGroup(groupId, memberId);
    this.#dispatch(group, { type: 'heartbeat' }, { member: this.#member(group, memberId), generationId });
  }

  leave(groupId: string, memberId: string): void {
    const group = this.#knownGroup(groupId, memberId);
    const member = this.#member(group, memberId);
    this.#dispatch(group, { type: 'leave', ...this.#departureFacts(group, member) }, { member });
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
    if (group !== undefined) this.#checkFenced(group, memberId);
    if (group === undefined || group.members.size === 0) {
      throw new SluiceError('SLUICE_ERR_ILLEGAL_GENERATION', `group ${groupId} has no generation ${generationId}: it has no live members`);
    }
    this.#member(group, memberId);
    this.#checkGeneration(group, generationId);
  }

  /** When the group last became Empty; undefined while it has members or if it is unknown. */
  emptySince(groupId: string): number | undefined {
    const group = this.#groups.get(groupId);
    return group?.state === 'Empty' ? group.emptySinceMs : undefined;
  }

  /** Forgets an Empty group (or one it does not know); false, doing nothing, if it has members. */
  expire(groupId: string): boolean {
    const group = this.#groups.get(groupId);
    if (group === undefined) return true;
    this.#dispatch(group, { type: 'groupExpiry' }, {});
    return group.state === 'Dead';
  }

  groups(): GroupSnapshot[] {
    return [...this.#groups.values()].map((group) => this.describe(group.id)!);
  }

  describe(groupId: string): GroupSnapshot | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    const members = [...group.members.values()];
    return {
      groupId, state: group.state, generationId: group.generation, protocolType: members[0]?.protocolType ?? '', protocolName: group.protocolName, leader: group.leader,
      members: members.map((member) => ({
        memberId: member.memberId, groupInstanceId: member.instanceId, clientId: member.clientId,
        metadata: member.protocols.find((protocol) => protocol.name === group.protocolName)?.metadata ?? Buffer.alloc(0), assignment: member.assignment,
      })),
    };
  }

  /**
   * Drops the groups this broker no longer coordinates (it lost their `__consumer_offsets`
   * partition): their timers stop, joins and syncs still waiting get NOT_COORDINATOR, and
   * their members find the new coordinator and rejoin there.
   */
  unload(matches: (groupId: string) => boolean): void {
    for (const group of [...this.#groups.values()]) {
      if (!matches(group.id)) continue;
      clearTimeout(group.rebalanceTimer);
      const moved = new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker no longer coordinates group ${group.id}; ask FindCoordinator for its coordinator and rejoin there`);
      for (const member of [...group.members.values()]) this.#forget(group, member, moved);
      this.#groups.delete(group.id);
    }
  }

  /** Stops every timer and answers every join or sync still waiting, so a stop need not wait them out. */
  close(): void {
    this.#closed = true;
    const reason = new SluiceError('SLUICE_ERR_BROKER_SHUTTING_DOWN', 'the group coordinator is stopping');
    for (const group of this.#groups.values()) {
      clearTimeout(group.rebalanceTimer);
      for (const member of group.members.values()) {
        clearTimeout(member.sessionTimer);
        member.pendingJoin?.reject(reason);
        member.pendingSync?.reject(reason);
        member.pendingJoin = undefined;
        member.pendingSync = undefined;
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_BROKER_SHUTTING_DOWN', 'the group coordinator is stopping; join again once the broker is back');
  }

  #knownGroup(groupId: string, memberId: string): Group {
    const group = this.#groups.get(groupId);
    if (group === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${groupId} has no member ${memberId}`);
    return group;
  }

  #member(group: Group, memberId: string): Member {
    this.#checkFenced(group, memberId);
    const member = group.members.get(memberId);
    if (member === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${group.id} has no member ${memberId}`);
    return member;
  }

  #checkFenced(group: Group, memberId: string): void {
    const instanceId = group.fenced.get(memberId);
    if (instanceId !== undefined) {
      throw new SluiceError('SLUICE_ERR_FENCED_INSTANCE_ID', `member ${memberId} of group ${group.id} was replaced by a newer instance with group instance id ${instanceId}`);
    }
  }

  #checkGeneration(group: Group, generationId: number | undefined): void {
    if (generationId !== group.generation) {
      throw new SluiceError('SLUICE_ERR_ILLEGAL_GENERATION', `group ${group.id} is at generation ${group.generation}, not ${generationId}`);
    }
  }

  #departureFacts(group: Group, member: Member): { membersLeft: number; completesJoin: boolean } {
    const others = [...group.members.values()].filter((candidate) => candidate !== member);
    return { membersLeft: others.length, completesJoin: !group.delaying && others.every((other) => other.pendingJoin !== undefined) };
  }

  /** Runs the event through the table: its actions, in order, then the new state, then its error. */
  #dispatch(group: Group, event: GroupEvent, subject: Subject): void {
    const step = transition(group.state, event);
    for (const action of step.actions) this.#act(action, group, subject);
    if (step.next === 'Empty' && group.state !== 'Empty') group.emptySinceMs = this.#now();
    group.state = step.next;
    if (step.error === 'SLUICE_ERR_REBALANCE_IN_PROGRESS') throw new SluiceError(step.error, `group ${group.id} is rebalancing; rejoin`);
    if (step.error === 'SLUICE_ERR_UNKNOWN_MEMBER_ID') throw new SluiceError(step.error, `group ${group.id} has no member ${subject.member?.memberId ?? ''}`);
  }

  #act(action: GroupAction, group: Group, subject: Subject): void {
    switch (action) {
      case 'addMember': {
        const member = this.#newMember(subject);
        group.members.set(member.memberId, member);
        subject.member = member;
        return;
      }
      case 'updateMember': {
        const { request } = subject.join!;
        Object.assign(subject.member!, {
          sessionTimeoutMs: request.sessionTimeoutMs, rebalanceTimeoutMs: request.rebalanceTimeoutMs, protocols: request.protocols, protocolType: request.protocolType,
        });
        return;
      }
      case 'replaceStaticMember': {
        const old = subject.member!;
        const fenced = new SluiceError('SLUICE_ERR_FENCED_INSTANCE_ID', `member ${old.memberId} of group ${group.id} was replaced by a newer instance with group instance id ${old.instanceId}`);
        this.#forget(group, old, fenced);
        group.fenced.set(old.memberId, old.instanceId);
        if (group.fenced.size > fencedMemberIdsMax) group.fenced.delete(group.fenced.keys().next().value!);
        const member = this.#newMember(subject);
        member.assignment = old.assignment;
        group.members.set(member.memberId, member);
        if (group.leader === old.memberId) group.leader = member.memberId;
        subject.member = member;
        return;
      }
      case 'renewSession':
        this.#renewSession(group, subject.member!);
        return;
      case 'checkGeneration':
        this.#checkGeneration(group, subject.generationId);
        return;
      case 'awaitJoin': {
        const member = subject.member!;
        member.pendingJoin?.reject(new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', `a newer JoinGroup from member ${member.memberId} replaced this one`));
        subject.joined = new Promise((resolve, reject) => { member.pendingJoin = { resolve, reject }; });
        return;
      }
      case 'answerJoin':
        subject.joined = Promise.resolve(this.#joinResponse(group, subject.member!));
        return;
      case 'startInitialDelay':
        group.delaying = true;
        this.#startRebalanceTimer(group, this.#initialRebalanceDelayMs, 'initialDelayElapsed');
        return;
      case 'startRebalance': {
        for (const member of group.members.values()) {
          member.pendingSync?.reject(new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', `group ${group.id} is rebalancing`));
          member.pendingSync = undefined;
        }
        group.delaying = false;
        let longest = 0;
        for (const member of group.members.values()) longest = Math.max(longest, member.rebalanceTimeoutMs);
        this.#startRebalanceTimer(group, longest, 'rebalanceTimeout');
        return;
      }
      case 'completeJoin':
        this.#completeJoin(group);
        return;
      case 'storeAssignments': {
        for (const entry of subject.assignments ?? []) {
          const target = group.members.get(entry.memberId);
          if (target !== undefined) target.assignment = Buffer.from(entry.assignment);
        }
        for (const member of group.members.values()) {
          member.pendingSync?.resolve(member.assignment);
          member.pendingSync = undefined;
        }
        return;
      }
      case 'awaitAssignment': {
        const member = subject.member!;
        member.pendingSync?.reject(new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', `a newer SyncGroup from member ${member.memberId} replaced this one`));
        subject.assignment = new Promise((resolve, reject) => { member.pendingSync = { resolve, reject }; });
        return;
      }
      case 'returnAssignment':
        subject.assignment = Promise.resolve(subject.member!.assignment);
        return;
      case 'removeMember': {
        const member = subject.member!;
        this.#forget(group, member, new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `member ${member.memberId} left group ${group.id}`));
        return;
      }
      case 'stopRebalanceTimer':
        clearTimeout(group.rebalanceTimer);
        group.delaying = false;
        return;
      case 'removeGroup':
        clearTimeout(group.rebalanceTimer);
        this.#groups.delete(group.id);
        return;
      default: {
        const unhandled: never = action;
        throw new Error(`unhandled group action ${String(unhandled)}`);
      }
    }
  }

  #newMember(subject: Subject): Member {
    const { request, clientId } = subject.join!;
    return {
      memberId: `${clientId || 'member'}-${randomUUID()}`, instanceId: request.groupInstanceId ?? '', clientId,
      sessionTimeoutMs: request.sessionTimeoutMs, rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocolType: request.protocolType, protocols: request.protocols, assignment: Buffer.alloc(0),
      sessionTimer: undefined, pendingJoin: undefined, pendingSync: undefined,
    };
  }

  /** Takes the member out of the group; what it still has waiting fails with `reason`. */
  #forget(group: Group, member: Member, reason: SluiceError): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    member.pendingJoin?.reject(reason);
    member.pendingSync?.reject(reason);
    member.pendingJoin = undefined;
    member.pendingSync = undefined;
  }

  #startRebalanceTimer(group: Group, delayMs: number, type: 'initialDelayElapsed' | 'rebalanceTimeout'): void {
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => {
      if (this.#groups.get(group.id) !== group) return;
      const rejoined = [...group.members.values()].filter((member) => member.pendingJoin !== undefined).length;
      this.#dispatch(group, { type, rejoined }, {});
    }, delayMs);
    group.rebalanceTimer.unref();
  }

  /** Restarts the member's session clock; a member silent for its session timeout is removed. */
  #renewSession(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (group.members.get(member.memberId) !== member || this.#groups.get(group.id) !== group) return;
      this.#dispatch(group, { type: 'sessionExpiry', waiting: member.pendingJoin !== undefined || member.pendingSync !== undefined, ...this.#departureFacts(group, member) }, { member });
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  #completeJoin(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    group.delaying = false;
    for (const member of [...group.members.values()]) {
      if (member.pendingJoin === undefined) this.#forget(group, member, new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `member ${member.memberId} did not rejoin group ${group.id} in time`));
    }
    group.generation += 1;
    const members = [...group.members.values()];
    if (members.length === 0) return;
    if (!group.members.has(group.leader)) group.leader = members[0]!.memberId;
    const leader = group.members.get(group.leader)!;
    group.protocolName = selectProtocol(leader.protocols, members.map((member) => member.protocols));
    for (const member of members) {
      member.assignment = Buffer.alloc(0);
      const waiting = member.pendingJoin;
      member.pendingJoin = undefined;
      waiting?.resolve(this.#joinResponse(group, member));
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
}

/** The leader's first protocol every member offers (else the leader's first). */
function selectProtocol(leaderProtocols: Protocol[], everyMember: Protocol[][]): string {
  return leaderProtocols.find((protocol) => everyMember.every((offered) => offered.some((candidate) => candidate.name === protocol.name)))?.name
    ?? leaderProtocols[0]?.name ?? '';
}

/** The protocol the group would select next were `member` to offer `protocols` instead of its own. */
function protocolWith(group: Group, member: Member, protocols: Protocol[]): string {
  const offered = (candidate: Member) => (candidate === member ? protocols : candidate.protocols);
  const leader = group.members.get(group.leader) ?? member;
  return selectProtocol(offered(leader), [...group.members.values()].map(offered));
}
