/**
 * The internal topic `__consumer_offsets`: its name, the configs it is made with, and the
 * repair of its record when an older broker made it with the user defaults.
 */
import type { Logger } from 'pino';
import type { TopicStore } from '../topics/topic-store.js';

export const offsetsTopic = '__consumer_offsets';

/** Without compaction a commit would expire with the log's retention, however recent it is. */
export const offsetsTopicConfigs: Readonly<Record<string, string>> = { 'cleanup.policy': 'compact', 'segment.bytes': String(64 * 1024 * 1024) };

/**
 * Before the logs open: an older broker let CreateTopics or auto-create make
 * `__consumer_offsets` with the user defaults (cleanup.policy=delete), which retention would
 * empty. Such a record is set back to compact, loudly, rather than kept.
 */
export function repairOffsetsTopicRecord(store: TopicStore, logger: Logger): void {
  const record = store.load().find((candidate) => candidate.name === offsetsTopic);
  const policy = record?.configs['cleanup.policy'];
  if (record === undefined || policy === 'compact') return;
  logger.warn({ topic: offsetsTopic, cleanupPolicy: policy ?? 'default' }, `${offsetsTopic} was not compacted (made by an older broker?); setting cleanup.policy=compact so committed offsets do not expire`);
  store.save({ ...record, configs: { ...record.configs, 'cleanup.policy': 'compact' } });
}
