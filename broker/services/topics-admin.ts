/**
 * The topic admin services both listeners call, per topic (one topic's failure is its own
 * result). In a cluster the controller does the work (placement, partition states in etcd);
 * another broker answers NOT_CONTROLLER and the client goes there.
 */
import type { CreateTopic, TopicResult } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemResultAsync } from '../api/item-result.js';

export async function createTopics(context: BrokerContext, topics: readonly CreateTopic[], validateOnly: boolean): Promise<TopicResult[]> {
  return await Promise.all(topics.map((topic) => itemResultAsync(context, { api: 'CreateTopics', topic: topic.name },
    () => ({ name: topic.name, errorCode: 0, errorMessage: '' }), async () => {
      await context.cluster.createTopic(topic, validateOnly);
      if (!validateOnly) {
        context.logger.info({ topic: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor, configs: topic.configs }, 'topic created');
      }
      return { name: topic.name, errorCode: 0, errorMessage: '' };
    })));
}

export async function deleteTopics(context: BrokerContext, names: readonly string[]): Promise<TopicResult[]> {
  return await Promise.all(names.map((name) => itemResultAsync(context, { api: 'DeleteTopics', topic: name },
    () => ({ name, errorCode: 0, errorMessage: '' }), async () => {
      await context.cluster.deleteTopic(name);
      context.logger.info({ topic: name }, 'topic deleted');
      return { name, errorCode: 0, errorMessage: '' };
    })));
}

/** CreatePartitions, per topic: grows each to its new count (in a cluster, on the controller). */
export async function createPartitions(
  context: BrokerContext, topics: ReadonlyArray<{ name: string; count: number }>, validateOnly: boolean,
): Promise<TopicResult[]> {
  return await Promise.all(topics.map((topic) => itemResultAsync(context, { api: 'CreatePartitions', topic: topic.name },
    () => ({ name: topic.name, errorCode: 0, errorMessage: '' }), async () => {
      await context.cluster.createPartitions(topic.name, topic.count, validateOnly);
      if (!validateOnly) context.logger.info({ topic: topic.name, partitions: topic.count }, 'partitions added');
      return { name: topic.name, errorCode: 0, errorMessage: '' };
    })));
}
