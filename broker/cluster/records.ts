/**
 * The JSON values stored under the cluster keys, and their decoding: a value that does not
 * have the expected shape is reported and ignored rather than trusted.
 */
import type { BrokerEndpoint, LeaderRecoveryState, PartitionState } from './partition-state.js';

/** Where a broker's Kafka-protocol listener takes clients (absent when it has none). */
export interface KafkaAddress {
  host: string;
  port: number;
}

/** A live broker as its registration says: endpoint, epoch, Kafka address, and whether it is shutting down. */
export interface BrokerRegistration extends BrokerEndpoint {
  shuttingDown: boolean;
  kafka?: KafkaAddress;
}

export interface TopicRecord {
  name: string;
  topicId: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

export interface StoredBroker {
  host: string;
  port: number;
  rack?: string;
  shuttingDown: boolean;
  kafka?: KafkaAddress;
}

/** A partition state as stored: the shared PartitionState plus the epoch of the controller that wrote it. */
export interface StoredPartitionState extends Omit<PartitionState, 'topic' | 'partition'> {
  controllerEpoch: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v));
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function decodeBroker(text: string): StoredBroker | null {
  const value = parse(text);
  if (!isObject(value) || typeof value['host'] !== 'string' || !Number.isInteger(value['port'])) return null;
  const broker: StoredBroker = { host: value['host'], port: value['port'] as number, shuttingDown: value['shuttingDown'] === true };
  if (typeof value['rack'] === 'string') broker.rack = value['rack'];
  const kafka = value['kafka'];
  if (isObject(kafka) && typeof kafka['host'] === 'string' && Number.isInteger(kafka['port'])) broker.kafka = { host: kafka['host'], port: kafka['port'] as number };
  return broker;
}

export function decodeTopic(name: string, text: string): TopicRecord | null {
  const value = parse(text);
  if (!isObject(value) || typeof value['topicId'] !== 'string' || !Number.isInteger(value['partitions'])
    || !Number.isInteger(value['replicationFactor']) || !isObject(value['configs'])) return null;
  const configs: Record<string, string> = {};
  for (const [key, v] of Object.entries(value['configs'])) configs[key] = String(v);
  return { name, topicId: value['topicId'], partitions: value['partitions'] as number, replicationFactor: value['replicationFactor'] as number, configs };
}

export function encodeTopic(topic: TopicRecord): string {
  const { topicId, partitions, replicationFactor, configs } = topic;
  return JSON.stringify({ topicId, partitions, replicationFactor, configs });
}

export function decodePartitionState(topic: string, partition: number, text: string): PartitionState | null {
  const value = parse(text);
  if (!isObject(value) || !isIntArray(value['replicas']) || !isIntArray(value['isr']) || !Number.isInteger(value['leader'])
    || !Number.isInteger(value['leaderEpoch']) || !Number.isInteger(value['partitionEpoch'])) return null;
  const recovery: LeaderRecoveryState = value['leaderRecoveryState'] === 'recovering' ? 'recovering' : 'recovered';
  return {
    topic, partition, replicas: value['replicas'], isr: value['isr'], leader: value['leader'] as number,
    leaderEpoch: value['leaderEpoch'] as number, partitionEpoch: value['partitionEpoch'] as number, leaderRecoveryState: recovery,
  };
}

export function encodePartitionState(state: PartitionState, controllerEpoch: number): string {
  const stored: StoredPartitionState = {
    replicas: state.replicas, isr: state.isr, leader: state.leader, leaderEpoch: state.leaderEpoch,
    partitionEpoch: state.partitionEpoch, leaderRecoveryState: state.leaderRecoveryState, controllerEpoch,
  };
  return JSON.stringify(stored);
}

/** The epoch of the controller that last wrote a stored partition state (−1 if absent). */
export function decodeControllerEpoch(text: string): number {
  const value = parse(text);
  return isObject(value) && Number.isInteger(value['controllerEpoch']) ? value['controllerEpoch'] as number : -1;
}
