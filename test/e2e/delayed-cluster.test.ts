/**
 * Delayed delivery is not served in cluster mode yet (the timer partition's leader would have
 * to append to target partitions led by other brokers): a cluster broker refuses delayed
 * records with an INVALID_RECORD error that says so, and takes the topic's other records.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { SluiceError } from '../../proto/errors.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { readRecords } from '../helpers/delayed.js';

afterAll(cleanupCluster);

describe('delayed delivery in a cluster', () => {
  it('refuses delayed records with a clear error and keeps the rest of the topic working', async () => {
    const cluster = await startCluster({ brokers: 1 });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap });
    try {
      await sluice.admin().createTopic('later', { partitions: 1, replicationFactor: 1, configs: { 'delayed.delivery.enable': 'true' } });
      const producer = sluice.producer({ idempotent: false, retries: 0 });
      const error = await producer.send({ topic: 'later', messages: [{ value: 'x', headers: { 'x-delay-ms': '1000' } }] }).catch((caught: unknown) => caught);
      expect(SluiceError.is(error) && error.code).toBe('SLUICE_ERR_INVALID_RECORD');
      expect((error as Error).message).toMatch(/cluster, where delayed delivery is not available yet/);
      await producer.send({ topic: 'later', messages: [{ value: 'now' }] });
      expect((await readRecords(sluice, 'later', 1, 5000)).map((record) => record.value!.toString())).toEqual(['now']);
    } finally {
      await sluice.close();
    }
  });
});
