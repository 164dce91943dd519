/**
 * What a group member's JoinGroup metadata and SyncGroup assignment carry, in Kafka's
 * ConsumerProtocol (proto/consumer-protocol.ts), so Kafka clients and Sluice clients read each
 * other's bytes:
 *
 * - subscription: the topics, the partitions the member owns now (ownedPartitions, which
 *   cooperative-sticky needs) and the generation they were assigned in; no userData.
 * - assignment: the member's partitions. A Sluice leader adds a userData of its own — "SLUICE",
 *   a version byte (0) and a flags byte whose bit 0 says a cooperative follow-up round comes at
 *   once — because Kafka's layout has no field for it and a member given nothing in this round
 *   could not tell otherwise. Kafka clients ignore assignment userData of assignors they do not
 *   know. An assignment without it (from a Kafka client's leader) leaves the follow-up to be
 *   derived as Kafka's cooperative protocol does: a member that lost partitions rejoins.
 */
import {
  byTopic, ConsumerProtocolError, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, flatten,
} from '../../proto/consumer-protocol.js';
import type { MemberSubscription, TopicPartition } from './assignors.js';

const sluiceMarker = Buffer.from('SLUICE', 'ascii');
const sluiceUserDataVersion = 0;
const followUpFlag = 0x01;

export function encodeMemberSubscription(topics: string[], owned: readonly TopicPartition[], generationId: number): Buffer {
  return encodeSubscription({ topics, userData: null, ownedPartitions: byTopic(owned), generationId, rackId: null });
}

/** A member's JoinGroup metadata as the leader's assignor takes it; unreadable bytes name the member. */
export function readMemberSubscription(memberId: string, metadata: Buffer): MemberSubscription {
  try {
    const subscription = decodeSubscription(metadata);
    return { memberId, topics: subscription.topics, owned: flatten(subscription.ownedPartitions) };
  } catch (error) {
    if (error instanceof ConsumerProtocolError) throw new ConsumerProtocolError(`member ${memberId}'s subscription: ${error.detail}`);
    throw error;
  }
}

/** What the Sluice leader hands one member. */
export function encodeMemberAssignment(partitions: readonly TopicPartition[], followUp: boolean): Buffer {
  const userData = Buffer.concat([sluiceMarker, Buffer.from([sluiceUserDataVersion, followUp ? followUpFlag : 0])]);
  return encodeAssignment({ assignedPartitions: byTopic(partitions), userData });
}

export interface MemberAssignment {
  partitions: TopicPartition[];
  /** The Sluice leader's follow-up flag; undefined when the leader did not say (a Kafka client's leader). */
  followUp: boolean | undefined;
}

/** A SyncGroup assignment; no bytes at all (a leader that gave this member nothing) is no partitions. */
export function readMemberAssignment(bytes: Buffer): MemberAssignment {
  if (bytes.length === 0) return { partitions: [], followUp: undefined };
  const assignment = decodeAssignment(bytes);
  return { partitions: flatten(assignment.assignedPartitions), followUp: sluiceFollowUp(assignment.userData) };
}

function sluiceFollowUp(userData: Buffer | null): boolean | undefined {
  // Later versions of this userData may append fields; the flags byte stays where it is.
  if (userData === null || userData.length < sluiceMarker.length + 2 || !userData.subarray(0, sluiceMarker.length).equals(sluiceMarker)) return undefined;
  return (userData[sluiceMarker.length + 1]! & followUpFlag) !== 0;
}
