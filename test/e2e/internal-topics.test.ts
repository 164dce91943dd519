/**
 * Topic names starting with "__" belong to the broker: CreateTopics, auto-create (metadata
 * and produce) and DeleteTopics refuse them with INVALID_TOPIC, so `__consumer_offsets` can
 * only be made by the offset store, compacted, and commits keep working.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';

afterAll(cleanupBrokers);

const reserved = /names starting with "__" are reserved for the broker's internal topics/;

describe('internal topic names', () => {
  it('cannot be created, validated or deleted by a request', async () => {
    const broker = await startBroker();
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    const admin = sluice.admin();
    for (const name of ['__consumer_offsets', '__anything']) {
      await expect(admin.createTopic(name, { partitions: 1 })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC', message: expect.stringMatching(reserved) });
      await expect(admin.createTopic(name, { partitions: 1, validateOnly: true })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC' });
      await expect(admin.deleteTopic(name)).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC', message: expect.stringMatching(reserved) });
    }
    await admin.createTopic('_single_underscore_is_fine');
    expect(await admin.listTopics()).toEqual(['_single_underscore_is_fine']);
    await sluice.close();
  });

  it('are not auto-created; the offset store makes __consumer_offsets compacted at the first commit', async () => {
    const broker = await startBroker({ args: ['--auto-create-topics', '--default-partitions', '3'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    const admin = sluice.admin();
    await expect(admin.describeTopic('__consumer_offsets')).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC', message: expect.stringMatching(reserved) });
    await expect(sluice.producer().send({ topic: '__other', messages: [{ value: 'x' }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC' });
    expect(await admin.listTopics()).toEqual([]);

    await admin.createTopic('orders', { partitions: 1 });
    await sluice.consumer({ groupId: 'billing' }).commit([{ topic: 'orders', partition: 0, offset: 5 }]);
    await sluice.consumer({ groupId: 'billing' }).commit([{ topic: 'orders', partition: 0, offset: 6 }]);
    expect((await admin.describeGroup('billing')).partitions.map((entry) => entry.committedOffset)).toEqual([6]);
    const topic = await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/topics/__consumer_offsets`)).json() as { partitions: unknown[]; configs: Record<string, string> };
    expect(topic.configs['cleanup.policy']).toBe('compact');
    expect(topic.partitions).toHaveLength(1);
    await sluice.close();
  });
});
