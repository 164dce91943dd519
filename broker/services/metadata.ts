/**
 * The metadata service both listeners call: per topic its partitions with leader, leader
 * epoch, replicas, in-sync replicas and the replicas whose broker is down, as the cluster knows
 * them (on a single broker: itself for everything). Listeners add the brokers of their own
 * protocol (the native or the Kafka addresses).
 */
import { SluiceError } from '../../proto/errors.js';
import type { TopicMetadata } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemResult } from '../api/item-result.js';

function describe(context: BrokerContext, name: string): TopicMetadata {
  const partitions = context.cluster.describeTopic(name);
  if (partitions === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${JSON.stringify(name)}`);
  return { name, errorCode: 0, errorMessage: '', partitions };
}

/**
 * Every topic when `names` is undefined; else each named one, auto-created first when the
 * broker auto-creates topics and `autoCreate` allows it; an unknown one carries its error.
 */
export function describeTopics(context: BrokerContext, names: readonly string[] | undefined, autoCreate = true): TopicMetadata[] {
  if (names === undefined) return context.cluster.topicNames().map((name) => describe(context, name));
  return names.map((name) => itemResult(context, { api: 'Metadata', topic: name }, (): TopicMetadata => ({ name, errorCode: 0, errorMessage: '', partitions: [] }), () => {
    if (autoCreate) context.topicOrAutoCreate(name);
    return describe(context, name);
  }));
}
