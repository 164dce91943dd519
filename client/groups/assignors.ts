/**
 * Partition assignors for consumer groups. As in Kafka's classic protocol they run on the
 * client (the group leader computes everyone's assignment), so they are pure functions of the
 * members' subscriptions and the partition counts.
 *
 * - range: per topic, members sorted by id get contiguous ranges; the first
 *   (partitions % members) get one extra.
 * - roundrobin: every subscribed partition, sorted, dealt to members in turn.
 * - cooperative-sticky: balanced like roundrobin, but every member keeps as many of the
 *   partitions it owns as the balance allows; a partition that changes owner is only taken
 *   away in this round (revoked) and handed to its new owner in the next one (KIP-429), so
 *   partitions that do not move never stop being consumed.
 *
 * The names are the protocol names members announce in JoinGroup, and they are Kafka's, so a
 * group mixing Kafka and Sluice clients agrees on one: `range`, `roundrobin` and
 * `cooperative-sticky` are what the Java client and librdkafka call theirs. KafkaJS announces
 * its round-robin assigner as `RoundRobinAssigner`; a Sluice member that announces that name
 * assigns round robin too, so it can share a group with KafkaJS consumers.
 */

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface MemberSubscription {
  memberId: string;
  topics: string[];
  /** Partitions the member consumes now (cooperative-sticky keeps them where it can). */
  owned?: TopicPartition[];
}

export interface AssignmentResult {
  assignment: Map<string, TopicPartition[]>;
  /** cooperative-sticky: partitions were revoked this round and another rebalance must follow. */
  followUp: boolean;
}

export type AssignorName = 'range' | 'roundrobin' | 'cooperative-sticky' | 'RoundRobinAssigner';

/** One assignor, or several in order of preference (the group picks one every member announced). */
export type AssignorChoice = AssignorName | readonly AssignorName[];

const byId = (a: MemberSubscription, b: MemberSubscription) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0);
const label = (entry: TopicPartition) => `${entry.topic}\u0000${entry.partition}`;
const compareTopicPartitions = (a: TopicPartition, b: TopicPartition) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);

function emptyAssignment(members: MemberSubscription[]): Map<string, TopicPartition[]> {
  return new Map(members.map((member) => [member.memberId, []]));
}

/** Every partition of every topic someone subscribes to, sorted by topic then partition. */
function subscribedPartitions(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): TopicPartition[] {
  const topics = [...new Set(members.flatMap((member) => member.topics))].filter((topic) => partitionsPerTopic.has(topic)).sort();
  return topics.flatMap((topic) => Array.from({ length: partitionsPerTopic.get(topic)! }, (_, partition) => ({ topic, partition })));
}

export function rangeAssign(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): AssignmentResult {
  const assignment = emptyAssignment(members);
  for (const [topic, count] of [...partitionsPerTopic].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const subscribers = members.filter((member) => member.topics.includes(topic)).sort(byId);
    if (subscribers.length === 0) continue;
    const each = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((member, index) => {
      const take = each + (index < extra ? 1 : 0);
      for (let partition = next; partition < next + take; partition += 1) assignment.get(member.memberId)!.push({ topic, partition });
      next += take;
    });
  }
  return { assignment, followUp: false };
}

export function roundRobinAssign(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): AssignmentResult {
  const assignment = emptyAssignment(members);
  const sorted = [...members].sort(byId);
  let cursor = 0;
  for (const entry of subscribedPartitions(members, partitionsPerTopic)) {
    // The next member, in turn, that subscribes to this topic.
    for (let tried = 0; tried < sorted.length; tried += 1) {
      const member = sorted[(cursor + tried) % sorted.length]!;
      if (!member.topics.includes(entry.topic)) continue;
      assignment.get(member.memberId)!.push(entry);
      cursor = (cursor + tried + 1) % sorted.length;
      break;
    }
  }
  return { assignment, followUp: false };
}

/** The balanced target: owned partitions kept up to each member's fair share, the rest dealt to the least loaded. */
function stickyTarget(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): Map<string, TopicPartition[]> {
  const sorted = [...members].sort(byId);
  const all = subscribedPartitions(members, partitionsPerTopic);
  const quota = (member: MemberSubscription) => {
    const eligible = all.filter((entry) => member.topics.includes(entry.topic)).length;
    return Math.min(eligible, Math.ceil(all.length / Math.max(1, sorted.length)));
  };
  const target = emptyAssignment(sorted);
  const taken = new Set<string>();
  // Keep what each member owns and still may have: first up to the floor of a fair share,
  // then one more for as many members as the remainder allows.
  const floor = Math.floor(all.length / Math.max(1, sorted.length));
  let extras = all.length - floor * sorted.length;
  const keep = (member: MemberSubscription, limit: () => number) => {
    const mine = target.get(member.memberId)!;
    for (const owned of [...(member.owned ?? [])].sort(compareTopicPartitions)) {
      if (mine.length >= limit()) break;
      const known = partitionsPerTopic.get(owned.topic);
      if (known === undefined || owned.partition >= known || !member.topics.includes(owned.topic) || taken.has(label(owned))) continue;
      mine.push(owned);
      taken.add(label(owned));
      if (mine.length > floor) extras -= 1;
    }
  };
  for (const member of sorted) keep(member, () => Math.min(floor, quota(member)));
  for (const member of sorted) keep(member, () => (extras > 0 ? Math.min(floor + 1, quota(member)) : floor));
  // Deal the rest to the least-loaded member that subscribes to the topic.
  for (const entry of all) {
    if (taken.has(label(entry))) continue;
    const candidates = sorted.filter((member) => member.topics.includes(entry.topic));
    if (candidates.length === 0) continue;
    const least = candidates.reduce((best, member) => (target.get(member.memberId)!.length < target.get(best.memberId)!.length ? member : best));
    target.get(least.memberId)!.push(entry);
    taken.add(label(entry));
  }
  return target;
}

export function cooperativeStickyAssign(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): AssignmentResult {
  const target = stickyTarget(members, partitionsPerTopic);
  const ownerOf = new Map<string, string>();
  for (const member of members) for (const owned of member.owned ?? []) ownerOf.set(label(owned), member.memberId);
  // A partition someone else still owns is withheld this round: its owner gives it up first.
  let followUp = false;
  const assignment = new Map<string, TopicPartition[]>();
  for (const [memberId, partitions] of target) {
    assignment.set(memberId, partitions.filter((entry) => {
      const owner = ownerOf.get(label(entry));
      const withheld = owner !== undefined && owner !== memberId;
      if (withheld) followUp = true;
      return !withheld;
    }).sort(compareTopicPartitions));
  }
  return { assignment, followUp };
}

export const assignors: Record<AssignorName, (members: MemberSubscription[], partitionsPerTopic: Map<string, number>) => AssignmentResult> = {
  range: rangeAssign,
  roundrobin: roundRobinAssign,
  'cooperative-sticky': cooperativeStickyAssign,
  RoundRobinAssigner: roundRobinAssign,
};

export function isAssignorName(name: string): name is AssignorName {
  return Object.hasOwn(assignors, name);
}
