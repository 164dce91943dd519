/**
 * The pieces share-group e2e tests through the client repeat: producing records, reading a
 * topic (a DLQ) with a plain consumer, setting a group's configs (starting at the earliest
 * offset), making share consumers with a short session, and waiting for the next record.
 */
import type { ShareConsumer, ShareRecord } from '../../client/share-consumer.js';
import type { Sluice } from '../../client/sluice.js';
import type { DecodedRecord } from '../../proto/record-batch/record-batch.js';
import { waitFor } from './broker-process.js';

export const header = (record: DecodedRecord, key: string) => record.headers.find((entry) => entry.key === key)?.value?.toString();

/** The next record a share consumer gets, with when it arrived. */
export async function nextRecord(consumer: ShareConsumer, timeoutMs = 10_000): Promise<{ record: ShareRecord; at: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [record] = await consumer.poll({ timeoutMs: 100, maxRecords: 1 });
    if (record !== undefined) return { record, at: Date.now() };
  }
  throw new Error(`no record within ${timeoutMs} ms`);
}

export class ShareHarness {
  readonly #sluice: Sluice;

  constructor(sluice: Sluice) {
    this.#sluice = sluice;
  }

  async produce(topic: string, records: Array<{ key?: string; value: string; headers?: Record<string, string> }>): Promise<void> {
    const producer = this.#sluice.producer({ lingerMs: 5 });
    for (let start = 0; start < records.length; start += 5000) await producer.send({ topic, messages: records.slice(start, start + 5000) });
    await producer.close();
  }

  /** Every record of partition 0 of `topic`, read by a plain consumer, once `count` are there. */
  async readAll(topic: string, count: number, timeoutMs = 10_000): Promise<DecodedRecord[]> {
    await waitFor(`topic ${topic}`, async () => (await this.#sluice.admin().listTopics()).includes(topic), timeoutMs);
    const consumer = this.#sluice.consumer();
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const records: DecodedRecord[] = [];
    try {
      await waitFor(`${count} records in ${topic}`, async () => {
        records.push(...await consumer.poll({ timeoutMs: 100 }));
        return records.length >= count;
      }, timeoutMs);
    } finally {
      await consumer.close();
    }
    return records;
  }

  /** Sets a group's configs; the group starts at the earliest offset. */
  async group(groupId: string, configs: Record<string, string>): Promise<void> {
    await this.#sluice.admin().alterGroupConfigs(groupId, { 'share.auto.offset.reset': 'earliest', ...configs });
  }

  consumer(groupId: string, options: { maxInFlight?: number; lockMs?: number } = {}): ShareConsumer {
    return this.#sluice.consumer({ groupId, share: true, sessionTimeoutMs: 3000, ...options });
  }
}
