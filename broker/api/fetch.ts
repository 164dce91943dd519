/**
 * Fetch with long polling. Each partition is read from its log as zero-copy slices of whole
 * batches. If fewer than `min_bytes` are ready, the request waits for appends to the
 * partitions it asked for, up to `max_wait_ms`, and is answered as soon as enough arrived
 * (or at once when the broker starts stopping). A response carries at most the client's
 * `max_bytes` and the broker's fetch.max.bytes, but its first batch is sent whole even past
 * them, so a consumer can always make progress.
 */
import { Api, type FetchRequest } from '../../proto/messages.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { RECORDS_COUNT_OFFSET } from '../../proto/record-batch/layout.js';
import { limits } from '../limits.js';
import { encodeFetchResponse, type FetchTopicOutput } from '../protocol/fetch-response.js';
import type { ApiHandler, BrokerContext } from './context.js';
import { itemError } from './item-result.js';

/** Records in whole batches laid end to end, from their headers alone. */
function countRecords(slice: Buffer): number {
  let records = 0;
  for (const { position } of eachBatch(slice)) records += slice.readInt32BE(position + RECORDS_COUNT_OFFSET);
  return records;
}

const partitionBytesDefault = 1024 * 1024;
const responseBytesDefault = 50 * 1024 * 1024;

function readAll(body: FetchRequest, context: BrokerContext): { topics: FetchTopicOutput[]; bytes: number; failed: boolean } {
  let remaining = Math.min(body.maxBytes > 0 ? body.maxBytes : responseBytesDefault, context.settings.fetchBytesMax);
  let bytes = 0;
  let failed = false;
  const topics = body.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((wanted) => {
      const output = {
        result: { partition: wanted.partition, errorCode: 0, errorMessage: '', highWatermark: -1, logStartOffset: -1 },
        slices: [] as Buffer[],
        bytes: 0,
      };
      try {
        const { log } = context.topics.partition(topic.name, wanted.partition);
        output.result.highWatermark = log.logEndOffset;
        output.result.logStartOffset = log.logStartOffset;
        if (remaining > 0 || bytes === 0) {
          const limit = Math.min(wanted.maxBytes > 0 ? wanted.maxBytes : partitionBytesDefault, Math.max(remaining, 1));
          const read = log.read(wanted.fetchOffset, limit);
          output.slices = read.slices;
          output.bytes = read.bytes;
          remaining -= read.bytes;
          bytes += read.bytes;
        }
      } catch (error) {
        Object.assign(output.result, itemError(context, { api: 'Fetch', topic: topic.name, partition: wanted.partition }, error));
        failed = true;
      }
      return output;
    }),
  }));
  return { topics, bytes, failed };
}

/** Resolves when `minBytes` more bytes were appended to the partitions, `waitMs` passed, or the broker stops. */
function waitForData(body: FetchRequest, context: BrokerContext, needed: number, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    // Everything that can wake this wait is undone in `done`, so a finished wait is garbage.
    const unsubscribes: Array<() => void> = [];
    let arrived = 0;
    const done = () => {
      clearTimeout(timer);
      for (const unsubscribe of unsubscribes) unsubscribe();
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    unsubscribes.push(context.stopping.onStop(done));
    for (const topic of body.topics) {
      for (const wanted of topic.partitions) {
        const partition = context.topics.find(topic.name)?.partitions[wanted.partition];
        unsubscribes.push(partition?.onAppend((bytes) => {
          arrived += bytes;
          if (arrived >= needed) done();
        }) ?? (() => {}));
      }
    }
  });
}

export const fetchHandler: ApiHandler = {
  api: Api.FETCH,
  name: 'Fetch',
  bodyField: 'fetch',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context) {
    const body = request.fetch as FetchRequest;
    const waitMs = Math.min(body.maxWaitMs, limits.fetchWaitMsMax);
    let outcome = readAll(body, context);
    if (!outcome.failed && outcome.bytes < Math.max(1, body.minBytes) && waitMs > 0) {
      await waitForData(body, context, Math.max(1, body.minBytes) - outcome.bytes, waitMs);
      outcome = readAll(body, context);
    }
    for (const topic of outcome.topics) {
      let bytes = 0;
      let records = 0;
      for (const partition of topic.partitions) {
        bytes += partition.bytes;
        for (const slice of partition.slices) records += countRecords(slice);
      }
      context.metrics.recordsOut(topic.name, records, bytes);
    }
    return { kind: 'frames', frames: encodeFetchResponse(request.correlationId, outcome.topics) };
  },
};
