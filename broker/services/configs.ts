/**
 * The config services: a topic's settings as Kafka names them (DescribeConfigs), and changes
 * to its overrides (IncrementalAlterConfigs: set, delete, append to and subtract from lists),
 * stored with the topic and put in force on its logs. The broker's own settings are its
 * command-line flags: they can be read here, not changed.
 */
import { SluiceError } from '../../proto/errors.js';
import { type LogConfig, logConfigKeys } from '../storage/log-config.js';
import type { BrokerContext } from '../api/context.js';

/** Where a value comes from: the topic's own override, or the broker's default for every topic. */
export type ConfigSource = 'topic' | 'default' | 'broker';

export interface ConfigEntry {
  name: string;
  value: string;
  source: ConfigSource;
  readOnly: boolean;
}

/** Kafka writes "no limit" as Long.MAX_VALUE where Sluice holds Infinity. */
const longMax = '9223372036854775807';

function configValue(value: LogConfig[keyof LogConfig]): string {
  if (value === Infinity) return longMax;
  return String(value);
}

function wantedKeys(keys: readonly string[] | null | undefined, all: readonly string[]): string[] {
  return keys === null || keys === undefined || keys.length === 0 ? [...all] : all.filter((key) => keys.includes(key));
}

/** Every topic setting (or those named), with its effective value and where it comes from. */
export function describeTopicConfigs(context: BrokerContext, name: string, keys?: readonly string[] | null): ConfigEntry[] {
  const overrides = context.cluster.topicConfigs(name);
  if (overrides === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${JSON.stringify(name)}`);
  const config = context.topics.find(name)?.config ?? context.topics.resolveConfig(overrides);
  return wantedKeys(keys, Object.keys(logConfigKeys)).map((key) => ({
    name: key, value: configValue(config[logConfigKeys[key]!]), source: key in overrides ? 'topic' : 'default', readOnly: false,
  }));
}

/** The broker settings Kafka tools look at, read-only (they are flags of `sluice broker`). */
export function describeBrokerConfigs(context: BrokerContext, keys?: readonly string[] | null): ConfigEntry[] {
  const defaults = context.topics.resolveConfig({});
  const values: Record<string, string> = {
    'broker.id': String(context.settings.nodeId),
    'node.id': String(context.settings.nodeId),
    'num.partitions': String(context.settings.defaultPartitions),
    'auto.create.topics.enable': String(context.settings.autoCreateTopics),
    'fetch.max.bytes': String(context.settings.fetchBytesMax),
    'message.max.bytes': configValue(defaults.maxMessageBytes),
    'log.retention.ms': configValue(defaults.retentionMs),
    'log.retention.bytes': configValue(defaults.retentionBytes),
    'log.segment.bytes': configValue(defaults.segmentBytes),
    'log.cleanup.policy': defaults.cleanupPolicy,
    'min.insync.replicas': configValue(defaults.minInsyncReplicas),
    'unclean.leader.election.enable': configValue(defaults.uncleanLeaderElectionEnable),
  };
  return wantedKeys(keys, Object.keys(values)).map((key) => ({ name: key, value: values[key]!, source: 'broker', readOnly: true }));
}

export type AlterOperation = 'set' | 'delete' | 'append' | 'subtract';

export interface ConfigChange {
  name: string;
  operation: AlterOperation;
  /** null only with delete. */
  value: string | null;
}

/** Settings whose value is a list (cleanup.policy): append and subtract work on them. */
const listKeys = new Set(['cleanup.policy']);

/** Applies the changes to the topic's overrides; each is checked, and all go in together or none does. */
export async function alterTopicConfigs(context: BrokerContext, name: string, changes: readonly ConfigChange[], validateOnly: boolean): Promise<void> {
  const current = context.cluster.topicConfigs(name);
  if (current === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${JSON.stringify(name)}`);
  const next = { ...current };
  for (const change of changes) {
    if (!(change.name in logConfigKeys)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `unknown topic config "${change.name}"; known: ${Object.keys(logConfigKeys).join(', ')}`);
    }
    if (change.operation === 'delete') {
      delete next[change.name];
      continue;
    }
    if (change.value === null) throw new SluiceError('SLUICE_ERR_CONFIG', `config ${change.name}: ${change.operation} needs a value`);
    if (change.operation === 'set') {
      next[change.name] = change.value;
      continue;
    }
    if (!listKeys.has(change.name)) throw new SluiceError('SLUICE_ERR_CONFIG', `config ${change.name} is not a list; use set or delete`);
    const effective = (next[change.name] ?? describeTopicConfigs(context, name, [change.name])[0]!.value).split(',').filter((item) => item !== '');
    const items = change.value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    next[change.name] = (change.operation === 'append' ? [...new Set([...effective, ...items])] : effective.filter((item) => !items.includes(item))).join(',');
  }
  await context.cluster.alterTopicConfigs(name, next, validateOnly);
  if (!validateOnly) context.logger.info({ topic: name, configs: next }, 'topic configs changed');
}
