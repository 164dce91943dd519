/**
 * A consumer's membership of a group: joins, lets the leader run the assignor, syncs, sends
 * heartbeats, and rejoins when the coordinator says the group is rebalancing. Subscriptions and
 * assignments travel in Kafka's ConsumerProtocol (member-metadata.ts), so Kafka consumers can
 * be members of the same group, leader included.
 *
 * Eager assignors (range, roundrobin) give up every partition before rejoining. With
 * cooperative-sticky a member keeps its partitions through the rebalance and only those that
 * move are revoked; a follow-up round, in which they are handed over, comes at once. As in
 * Kafka's clients, a member announcing several assignors behaves eagerly unless every one of
 * them is cooperative, since it cannot know before joining which one the group picks.
 */
import type { MetadataCache } from '../metadata.js';
import { SluiceError } from '../../proto/errors.js';
import type { GroupCoordinator } from './coordinator.js';
import { Api } from '../../proto/messages.js';
import { consumerProtocolType } from '../../proto/consumer-protocol.js';
import { type AssignorChoice, type AssignorName, assignors, isAssignorName, type TopicPartition } from './assignors.js';
import { encodeMemberAssignment, encodeMemberSubscription, readMemberAssignment, readMemberSubscription } from './member-metadata.js';
import { WakeableSleep } from './wakeable-sleep.js';

export interface GroupMemberOptions {
  groupId: string;
  topics: string[] | RegExp;
  /** Announced in this order of preference; the group uses one that every member announced. */
  assignor: AssignorChoice;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  groupInstanceId?: string;
  /** Called with partitions taken away, before they go (commit their offsets here). */
  onRevoked: (partitions: TopicPartition[]) => Promise<void>;
  /**
   * Called with the member's full new assignment and what was added; `followUp` is true when
   * a cooperative round that revoked partitions elsewhere follows at once, so more may come.
   */
  onAssigned: (assignment: TopicPartition[], added: TopicPartition[], followUp: boolean) => Promise<void>;
  onError: (error: unknown) => void;
}

const label = (entry: TopicPartition) => `${entry.topic}\u0000${entry.partition}`;

export class GroupMember {
  readonly #coordinator: GroupCoordinator;
  readonly #metadata: MetadataCache;
  readonly #options: GroupMemberOptions;
  readonly #assignors: readonly AssignorName[];
  readonly #cooperative: boolean;
  #memberId = '';
  #generationId = -1;
  #owned: TopicPartition[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  readonly #pause = new WakeableSleep();
  #rejoin = true;
  readonly #abort = new AbortController();

  constructor(coordinator: GroupCoordinator, metadata: MetadataCache, options: GroupMemberOptions) {
    this.#coordinator = coordinator;
    this.#metadata = metadata;
    this.#options = options;
    this.#assignors = typeof options.assignor === 'string' ? [options.assignor] : options.assignor;
    if (this.#assignors.length === 0) throw new SluiceError('SLUICE_ERR_CONFIG', 'assignor: name at least one assignor');
    this.#cooperative = this.#assignors.every((name) => name === 'cooperative-sticky');
  }

  get memberId(): string {
    return this.#memberId;
  }

  get generationId(): number {
    return this.#generationId;
  }

  get assignment(): TopicPartition[] {
    return this.#owned;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    let backoffMs = 100;
    while (!this.#stopped) {
      try {
        if (this.#rejoin) await this.#joinAndSync();
        await this.#heartbeat();
        backoffMs = 100;
      } catch (error) {
        if (this.#stopped) return;
        const code = SluiceError.is(error) ? error.code : undefined;
        if (code === 'SLUICE_ERR_REBALANCE_IN_PROGRESS' || code === 'SLUICE_ERR_ILLEGAL_GENERATION') {
          this.#rejoin = true;
        } else if (code === 'SLUICE_ERR_UNKNOWN_MEMBER_ID') {
          // The coordinator forgot us (session expired): everything we owned is gone.
          await this.#revoke(this.#owned);
          this.#memberId = '';
          this.#rejoin = true;
        } else if (SluiceError.is(error) && error.retriable) {
          this.#rejoin = true;
          await this.#pause.sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 2000);
        } else {
          this.#options.onError(error);
          return;
        }
      }
    }
  }

  async #subscribedTopics(): Promise<string[]> {
    const { topics } = this.#options;
    if (Array.isArray(topics)) return topics;
    const all = await this.#metadata.allTopics(this.#abort.signal);
    return all.map((topic) => topic.name).filter((name) => topics.test(name) && !name.startsWith('__'));
  }

  async #joinAndSync(): Promise<void> {
    if (!this.#cooperative) await this.#revoke(this.#owned);
    const metadata = encodeMemberSubscription(await this.#subscribedTopics(), this.#owned, this.#generationId);
    const joined = await this.#coordinator.request<'joinGroup'>(Api.JOIN_GROUP, {
      groupId: this.#options.groupId,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      memberId: this.#memberId,
      ...(this.#options.groupInstanceId === undefined ? {} : { groupInstanceId: this.#options.groupInstanceId }),
      protocolType: consumerProtocolType,
      protocols: this.#assignors.map((name) => ({ name, metadata })),
    }, { timeoutMs: this.#options.rebalanceTimeoutMs + 30_000, signal: this.#abort.signal });
    this.#memberId = joined.memberId;
    this.#generationId = joined.generationId;
    const assignments = joined.leader === joined.memberId ? await this.#assign(joined.protocolName, joined.members) : [];
    const synced = await this.#coordinator.request<'syncGroup'>(Api.SYNC_GROUP, {
      groupId: this.#options.groupId, generationId: joined.generationId, memberId: joined.memberId, assignments,
    }, { timeoutMs: this.#options.rebalanceTimeoutMs + 30_000, signal: this.#abort.signal });
    const assigned = readMemberAssignment(synced.assignment);
    const next = new Set(assigned.partitions.map(label));
    const revoked = this.#owned.filter((entry) => !next.has(label(entry)));
    await this.#revoke(revoked);
    const had = new Set(this.#owned.map(label));
    this.#owned = assigned.partitions;
    // A cooperative round that revoked partitions is followed at once by the round that hands
    // them over. A Sluice leader says so; under a Kafka client's leader the member that lost
    // partitions rejoins, which is what starts that round in Kafka's cooperative protocol.
    const followUp = assigned.followUp === true || (this.#cooperative && revoked.length > 0);
    await this.#options.onAssigned(this.#owned, this.#owned.filter((entry) => !had.has(label(entry))), followUp);
    this.#rejoin = followUp;
  }

  /** The leader's job: run the assignor the group picked over every member's subscription. */
  async #assign(protocolName: string, members: Array<{ memberId: string; metadata: Buffer }>): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    if (!isAssignorName(protocolName) || !this.#assignors.includes(protocolName)) {
      throw new SluiceError('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL', `the group picked assignor "${protocolName}", which this member did not announce (it announced ${this.#assignors.join(', ')})`);
    }
    const subscriptions = members.map((member) => readMemberSubscription(member.memberId, member.metadata));
    const topics = [...new Set(subscriptions.flatMap((member) => member.topics))];
    const partitionsPerTopic = new Map<string, number>();
    for (const topic of topics) {
      // A topic that is gone or unknown is left out of the assignment, as the broker's Metadata error said.
      const described = await this.#metadata.topic(topic, { refresh: true, signal: this.#abort.signal }).catch((error: unknown) => {
        if (SluiceError.is(error) && !error.retriable) return undefined;
        throw error;
      });
      if (described !== undefined) partitionsPerTopic.set(topic, described.partitions.length);
    }
    const { assignment, followUp } = assignors[protocolName](subscriptions, partitionsPerTopic);
    return [...assignment].map(([memberId, partitions]) => ({ memberId, assignment: encodeMemberAssignment(partitions, followUp) }));
  }

  async #revoke(partitions: TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const gone = new Set(partitions.map(label));
    await this.#options.onRevoked(partitions);
    this.#owned = this.#owned.filter((entry) => !gone.has(label(entry)));
  }

  async #heartbeat(): Promise<void> {
    await this.#pause.sleep(this.#options.heartbeatIntervalMs);
    if (this.#stopped || this.#rejoin) return;
    await this.#coordinator.request<'heartbeat'>(Api.HEARTBEAT, { groupId: this.#options.groupId, generationId: this.#generationId, memberId: this.#memberId }, { signal: this.#abort.signal });
  }

  /** Stops heartbeating and leaves the group, so the others rebalance at once. */
  async leave(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#pause.wake();
    await this.#loop?.catch(() => {});
    if (this.#memberId === '') return;
    await this.#coordinator.request<'leaveGroup'>(Api.LEAVE_GROUP, { groupId: this.#options.groupId, memberId: this.#memberId },
      // Leaving is a courtesy (the session would expire anyway): a missing coordinator must not hold close() up.
      { signal: AbortSignal.timeout(3000) }).catch(() => {});
  }
}
