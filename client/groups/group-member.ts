/**
 * A consumer's membership of a group: joins, lets the leader run the assignor, syncs, sends
 * heartbeats, and rejoins when the coordinator says the group is rebalancing. Subscriptions and
 * assignments travel as small JSON documents (opaque bytes to the broker).
 *
 * Eager assignors (range, roundrobin) give up every partition before rejoining. With
 * cooperative-sticky a member keeps its partitions through the rebalance and only those that
 * move are revoked; the leader asks for a follow-up round, in which they are handed over.
 */
import type { MetadataCache } from '../metadata.js';
import { SluiceError } from '../../proto/errors.js';
import type { GroupCoordinator } from './coordinator.js';
import { Api } from '../../proto/messages.js';
import { type AssignorName, assignors, type MemberSubscription, type TopicPartition } from './assignors.js';

export interface GroupMemberOptions {
  groupId: string;
  topics: string[] | RegExp;
  assignor: AssignorName;
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

interface Subscription {
  topics: string[];
  owned: TopicPartition[];
}

interface AssignmentDocument {
  partitions: TopicPartition[];
  followUp: boolean;
}

const label = (entry: TopicPartition) => `${entry.topic}\u0000${entry.partition}`;

export class GroupMember {
  readonly #coordinator: GroupCoordinator;
  readonly #metadata: MetadataCache;
  readonly #options: GroupMemberOptions;
  #memberId = '';
  #generationId = -1;
  #owned: TopicPartition[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #rejoin = true;
  readonly #abort = new AbortController();

  constructor(coordinator: GroupCoordinator, metadata: MetadataCache, options: GroupMemberOptions) {
    this.#coordinator = coordinator;
    this.#metadata = metadata;
    this.#options = options;
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
          await this.#sleep(backoffMs);
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
    const cooperative = this.#options.assignor === 'cooperative-sticky';
    if (!cooperative) await this.#revoke(this.#owned);
    const topics = await this.#subscribedTopics();
    const subscription: Subscription = { topics, owned: this.#owned };
    const joined = await this.#coordinator.request<'joinGroup'>(Api.JOIN_GROUP, {
      groupId: this.#options.groupId,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      memberId: this.#memberId,
      ...(this.#options.groupInstanceId === undefined ? {} : { groupInstanceId: this.#options.groupInstanceId }),
      protocolType: 'consumer',
      protocols: [{ name: this.#options.assignor, metadata: Buffer.from(JSON.stringify(subscription)) }],
    }, { timeoutMs: this.#options.rebalanceTimeoutMs + 30_000, signal: this.#abort.signal });
    this.#memberId = joined.memberId;
    this.#generationId = joined.generationId;
    const assignments = joined.leader === joined.memberId ? await this.#assign(joined.members.map((member) => ({ memberId: member.memberId, metadata: member.metadata }))) : [];
    const synced = await this.#coordinator.request<'syncGroup'>(Api.SYNC_GROUP, {
      groupId: this.#options.groupId, generationId: joined.generationId, memberId: joined.memberId, assignments,
    }, { timeoutMs: this.#options.rebalanceTimeoutMs + 30_000, signal: this.#abort.signal });
    const document = synced.assignment.length === 0 ? { partitions: [], followUp: false } : JSON.parse(synced.assignment.toString()) as AssignmentDocument;
    const next = new Set(document.partitions.map(label));
    await this.#revoke(this.#owned.filter((entry) => !next.has(label(entry))));
    const had = new Set(this.#owned.map(label));
    this.#owned = document.partitions;
    await this.#options.onAssigned(this.#owned, this.#owned.filter((entry) => !had.has(label(entry))), document.followUp);
    // A cooperative round that revoked partitions is followed at once by the round that hands them over.
    this.#rejoin = document.followUp;
  }

  /** The leader's job: run the assignor over every member's subscription. */
  async #assign(members: Array<{ memberId: string; metadata: Buffer }>): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const subscriptions: MemberSubscription[] = members.map((member) => {
      const subscription = JSON.parse(member.metadata.toString()) as Subscription;
      return { memberId: member.memberId, topics: subscription.topics, owned: subscription.owned };
    });
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
    const { assignment, followUp } = assignors[this.#options.assignor](subscriptions, partitionsPerTopic);
    return [...assignment].map(([memberId, partitions]) => ({
      memberId, assignment: Buffer.from(JSON.stringify({ partitions, followUp } satisfies AssignmentDocument)),
    }));
  }

  async #revoke(partitions: TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const gone = new Set(partitions.map(label));
    await this.#options.onRevoked(partitions);
    this.#owned = this.#owned.filter((entry) => !gone.has(label(entry)));
  }

  async #heartbeat(): Promise<void> {
    await this.#sleep(this.#options.heartbeatIntervalMs);
    if (this.#stopped || this.#rejoin) return;
    await this.#coordinator.request<'heartbeat'>(Api.HEARTBEAT, { groupId: this.#options.groupId, generationId: this.#generationId, memberId: this.#memberId }, { signal: this.#abort.signal });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stops heartbeating and leaves the group, so the others rebalance at once. */
  async leave(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#wake?.();
    await this.#loop?.catch(() => {});
    if (this.#memberId === '') return;
    await this.#coordinator.request<'leaveGroup'>(Api.LEAVE_GROUP, { groupId: this.#options.groupId, memberId: this.#memberId },
      // Leaving is a courtesy (the session would expire anyway): a missing coordinator must not hold close() up.
      { signal: AbortSignal.timeout(3000) }).catch(() => {});
  }
}
