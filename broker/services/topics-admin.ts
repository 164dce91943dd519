/**
 * The topic admin services both listeners call, per topic (one topic's failure is its own
 * result). In a cluster the controller does the work (placement, partition states in etcd);
 * another broker answers NOT_CONTROLLER and the client goes there.
 *
 * A create or delete of many partitions takes a while (its file work runs in slices beside
 * other requests); a request that waits past its timeout is answered REQUEST_TIMED_OUT while the
 * work goes on, as Kafka does, and the outcome is logged when it comes.
 */
import { SluiceError } from '../../proto/errors.js';
import type { CreateTopic, TopicResult } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemResultAsync } from '../api/item-result.js';

/** How long a native CreateTopics or DeleteTopics waits (Kafka's request carries its own; 60 s is its default). */
export const topicsAdminTimeoutMsDefault = 60_000;

export async function createTopics(
  context: BrokerContext, topics: readonly CreateTopic[], validateOnly: boolean, timeoutMs = topicsAdminTimeoutMsDefault,
): Promise<TopicResult[]> {
  return await Promise.all(topics.map((topic) => itemResultAsync(context, { api: 'CreateTopics', topic: topic.name },
    () => ({ name: topic.name, errorCode: 0, errorMessage: '' }), async () => {
      const created = context.cluster.createTopic(topic, validateOnly).then(() => {
        if (!validateOnly) {
          context.logger.info({ topic: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor, configs: topic.configs }, 'topic created');
        }
      });
      await within(created, timeoutMs, `topic ${topic.name}: the create of ${topic.partitions} partitions goes on in the background; describe the topic to see when it is there`,
        (error) => context.logger.error({ err: error, topic: topic.name }, 'topic creation failed after its request timed out'));
      return { name: topic.name, errorCode: 0, errorMessage: '' };
    })));
}

export async function deleteTopics(context: BrokerContext, names: readonly string[], timeoutMs = topicsAdminTimeoutMsDefault): Promise<TopicResult[]> {
  return await Promise.all(names.map((name) => itemResultAsync(context, { api: 'DeleteTopics', topic: name },
    () => ({ name, errorCode: 0, errorMessage: '' }), async () => {
      const deleted = context.cluster.deleteTopic(name).then(() => context.logger.info({ topic: name }, 'topic deleted'));
      await within(deleted, timeoutMs, `topic ${name}: its partitions are still being removed in the background`,
        (error) => context.logger.error({ err: error, topic: name }, 'topic deletion failed after its request timed out'));
      return { name, errorCode: 0, errorMessage: '' };
    })));
}

/**
 * Waits for `work` at most `timeoutMs`; past that throws REQUEST_TIMED_OUT and lets the work
 * finish, reporting a later failure through `lateFailure`.
 */
async function within(work: Promise<void>, timeoutMs: number, detail: string, lateFailure: (error: unknown) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
  });
  try {
    if (await Promise.race([work, timedOut]) !== 'timeout') return;
  } finally {
    clearTimeout(timer);
  }
  work.catch(lateFailure);
  throw new SluiceError('SLUICE_ERR_REQUEST_TIMED_OUT', `timed out after ${timeoutMs} ms: ${detail}`);
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
