/**
 * The marker sender over a real topic on this broker: a partition without a leader is retried
 * (its leader looked up again each round) until its marker lands; a partition that no longer
 * exists is dropped rather than retried forever; a sender whose transaction is no longer wanted
 * stops with ABORTED.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerContext } from '../../../../broker/api/context.js';
import { MarkerSender } from '../../../../broker/transactions/marker-sender.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import type { PartitionMetadata } from '../../../../proto/messages.js';
import { readBatchHeader } from '../../../../proto/record-batch/record-batch.js';
import { logBatches } from '../../../helpers/log-contents.js';

const logger = pino({ level: 'silent' });
let directory: string;
let topics: TopicManager;
let leaderless: number;
let context: BrokerContext;

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-marker-sender-'));
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  topics.create('orders', 2, {});
  leaderless = 0;
  context = {
    topics, logger, settings: { nodeId: 0 },
    offsets: { completeTransaction: () => {} },
    cluster: {
      describeTopic: (name: string): PartitionMetadata[] | undefined => {
        const topic = topics.find(name);
        if (topic === undefined) return undefined;
        const leader = leaderless > 0 ? -1 : 0;
        leaderless = Math.max(0, leaderless - 1);
        return topic.partitions.map((partition) => ({ partition: partition.index, errorCode: 0, leader, replicas: [0], isr: [0] }));
      },
      brokers: () => [{ nodeId: 0, host: '127.0.0.1', port: 1 }],
    },
  } as unknown as BrokerContext;
});

afterEach(() => {
  topics.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

const controlBatches = (partition: number) => logBatches(topics.partition('orders', partition).log).filter((batch) => readBatchHeader(batch).isControl).length;
const marker = { producerId: 3, producerEpoch: 0, committed: true, coordinatorEpoch: 0 };

describe('marker sender', () => {
  it('retries a partition without a leader until its marker lands, and drops a partition that no longer exists', async () => {
    const sender = new MarkerSender(() => context, logger);
    leaderless = 2;
    await sender.send(marker, [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }, { topic: 'gone', partition: 0 }, { topic: 'orders', partition: 7 }], () => true);
    expect([controlBatches(0), controlBatches(1)]).toEqual([1, 1]);
    sender.close();
  });

  it('stops with ABORTED when the transaction is no longer wanted', async () => {
    const sender = new MarkerSender(() => context, logger);
    leaderless = 1_000_000;
    let wanted = true;
    const sending = sender.send(marker, [{ topic: 'orders', partition: 0 }], () => wanted);
    setTimeout(() => { wanted = false; }, 100);
    await expect(sending).rejects.toMatchObject({ code: 'SLUICE_ERR_ABORTED' });
    expect(controlBatches(0)).toBe(0);
    sender.close();
  });
});
