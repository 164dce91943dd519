/**
 * The produce service both listeners call. Per partition: validate the producer's batch record by record (one CRC pass, then
 * a walk of every record, as Kafka's LogValidator), stamp its maxTimestamp, append it, and
 * answer with its base offset. Only the partition's leader accepts it, and stamps its leader
 * epoch into the batch. acks=0 sends no response; acks=1 answers after the leader's append
 * (page cache: survives a broker crash, not a power loss); acks=-1 (all) is refused when the ISR
 * is below min.insync.replicas, otherwise waits until every in-sync replica has the batch (the
 * high watermark passes it, up to the request's timeout), and for the sync that covers the batch
 * when the topic has a flush policy. A batch with a producer id is first checked against that
 * producer's state in the partition (sequence, epoch; storage/producer-state.ts); a resend of one
 * of its last 5 batches is answered with the original offsets (acks=all: once those are
 * replicated) and not appended.
 */
import { CorruptRecordError, SluiceError } from '../../proto/errors.js';
import type { ProducePartitionResult, ProduceRequest, ProduceTopicResult } from '../../proto/messages.js';
import { setMaxTimestamp, validateProducerBatch } from '../../proto/record-batch/record-batch.js';
import { splitDelayed } from '../delayed/split-batch.js';
import { delayedTopic } from '../delayed/delayed-topic.js';
import type { DelayedProduceOutcome } from '../replication/delayed-produce.js';
import type { LogConfig } from '../storage/log-config.js';
import { checkNotInternal } from '../topics/topic-name.js';
import type { BrokerContext } from '../api/context.js';
import { itemResultAsync } from '../api/item-result.js';

/** CreateTime bounds around the broker's clock `now` (Kafka 3.6+ before/after.max.ms). */
function timestampBounds(config: LogConfig, now: number): { lowestTimestamp: number; highestTimestamp: number } {
  return { lowestTimestamp: now - config.messageTimestampBeforeMaxMs, highestTimestamp: now + config.messageTimestampAfterMaxMs };
}

function replicationFailure(outcome: Exclude<DelayedProduceOutcome, null>, topic: string, partition: number, timeoutMs: number): string {
  switch (outcome) {
    case 'SLUICE_ERR_REQUEST_TIMED_OUT':
      return `${topic}-${partition}: the batch was written on the leader but not replicated to every in-sync replica within ${timeoutMs} ms`;
    case 'SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND':
      return `${topic}-${partition}: the batch was written and replicated, but the in-sync replicas fell below min.insync.replicas`;
    case 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER':
      return `${topic}-${partition}: this broker stopped leading the partition before the batch was replicated; refresh metadata and retry`;
  }
}

function producePartition(
  context: BrokerContext, topicName: string, partitionIndex: number, records: Buffer, acks: number, timeoutMs: number,
): Promise<ProducePartitionResult> {
  const failed = (): ProducePartitionResult => ({ partition: partitionIndex, errorCode: 0, errorMessage: '', baseOffset: -1, logStartOffset: -1, logAppendTimeMs: -1 });
  return itemResultAsync(context, { api: 'Produce', topic: topicName, partition: partitionIndex }, failed, async () => {
    // The timer log takes held records another broker sends to the leader of its partition.
    if (topicName === delayedTopic && context.delayed?.clustered === true) {
      await context.delayed.holdForwarded(partitionIndex, records);
      return { ...failed(), errorCode: 0 };
    }
    checkNotInternal(topicName, 'produce to');
    const topic = context.topicOrAutoCreate(topicName) ?? context.topics.get(topicName);
    const partition = context.topics.partition(topic.record.name, partitionIndex);
    partition.checkLeader();
    // acks=all is refused before anything is written when the ISR is too small (§D).
    if (acks === -1) partition.checkEnoughReplicas();
    const config = partition.log.config;
    const now = Date.now();
    const logAppendTime = config.messageTimestampType === 'LogAppendTime';
    const batch = validateProducerBatch(records, config.maxMessageBytes, { timestamps: logAppendTime ? undefined : timestampBounds(config, now) });
    // Compaction keeps the last record per key, so a compacted topic needs a key on every record.
    if (config.cleanupPolicy.includes('compact') && batch.hasNullKey) {
      throw new CorruptRecordError(`topic ${topicName} is compacted (cleanup.policy=${config.cleanupPolicy}): every record needs a key`, 'SLUICE_ERR_INVALID_RECORD');
    }
    // Delayed delivery reads every record's headers: only topics that enable it pay for that.
    const split = config.delayedDeliveryEnable
      ? splitDelayed(records, batch, now, { topic: topicName, partition: partitionIndex, logEndOffset: partition.log.logEndOffset, maxMs: config.delayedDeliveryMaxMs })
      : undefined;
    // What the partition appends: the batch, or what is left of it once its delayed records are held.
    const appending = split === undefined ? records : split.remainder;
    // Retention and segment.ms read maxTimestamp: it must be the broker's time or the records' own.
    if (appending !== undefined) {
      if (logAppendTime) setMaxTimestamp(appending, 0, 'log-append', now);
      else setMaxTimestamp(appending, 0, 'create', split === undefined ? batch.recordsMaxTimestamp : split.keptMaxTimestamp);
    }
    // An idempotent producer's resend of a batch already in the log: answered with the first
    // append's offsets, not appended again (nor held again). No await between this check and the
    // appends. The remainder of a split batch keeps its producer id, sequence and offset span.
    let duplicate = partition.log.checkProducerBatch(records);
    const held = duplicate === undefined && split !== undefined ? context.delayed!.hold(topicName, partitionIndex, split) : undefined;
    if (held !== undefined && !held.local) {
      // Held on the timer partition's leader: the rest waits for it, so a failed hold appends
      // nothing here and the producer's resend holds again instead of being taken for a duplicate.
      await held.done;
      partition.checkLeader();
      duplicate = partition.log.checkProducerBatch(records);
    }
    const appended = duplicate !== undefined
      ? { baseOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset }
      : appending === undefined ? { baseOffset: -1, lastOffset: -1 } : partition.log.append(appending, { verified: true, leaderEpoch: partition.leaderEpoch });
    if (duplicate === undefined && appending !== undefined) {
      partition.notifyAppend(appending.length);
      context.metrics.recordsIn(topicName, split === undefined ? batch.recordsCount : split.keptCount, appending.length);
    }
    // Only a split batch waits here: every other produce goes on without an extra suspension.
    if (held !== undefined) await held.done;
    if (acks === -1 && appended.lastOffset >= 0) {
      const replicated = partition.waitForReplication(appended.lastOffset, timeoutMs);
      if (replicated !== null) {
        const outcome = await replicated;
        if (outcome !== null) throw new SluiceError(outcome, replicationFailure(outcome, topicName, partitionIndex, timeoutMs));
      }
      if (partition.log.syncsOnItsOwn) await partition.log.waitForSync(appended.lastOffset);
    }
    return {
      partition: partitionIndex, errorCode: 0, errorMessage: '', baseOffset: appended.baseOffset, logStartOffset: partition.log.logStartOffset,
      logAppendTimeMs: logAppendTime ? now : -1,
    };
  });
}

/**
 * Appends every partition's batch (acks 0, 1 or -1; a partition that fails carries its error,
 * the others go on) and resolves with each partition's result. With acks=0 the caller sends no
 * answer, but the appends happened all the same.
 */
export async function produce(context: BrokerContext, request: ProduceRequest): Promise<ProduceTopicResult[]> {
  if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
    throw new SluiceError('SLUICE_ERR_INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1, got ${request.acks}`);
  }
  return await Promise.all(request.topics.map(async (topic) => ({
    name: topic.name,
    partitions: await Promise.all(topic.partitions.map((partition) => producePartition(context, topic.name, partition.partition, partition.records, request.acks, request.timeoutMs))),
  })));
}
