import { describe, expect, it } from 'vitest';
import { ClusterKeys } from '../../../../broker/cluster/keys.js';
import { decodePartitionState, decodeTopic, encodePartitionState, encodeTopic } from '../../../../broker/cluster/records.js';
import { state } from './helpers.js';

describe('cluster keys and records', () => {
  const keys = new ClusterKeys('c1');

  it('lays keys out under /sluice/<cluster>/ and parses them back', () => {
    expect(keys.broker(3)).toBe('/sluice/c1/brokers/ids/3');
    expect(keys.topic('orders')).toBe('/sluice/c1/topics/orders');
    expect(keys.partitionState('orders', 7)).toBe('/sluice/c1/partitions/orders/7/state');
    expect(keys.parse(keys.broker(3))).toEqual({ kind: 'broker', nodeId: 3 });
    expect(keys.parse(keys.partitionState('a.b-c', 12))).toEqual({ kind: 'partition', topic: 'a.b-c', partition: 12 });
    expect(keys.parse(`${keys.election}694d8e2b`)).toEqual({ kind: 'controller' });
    expect(keys.parse('/sluice/c1/other')).toBeNull();
  });

  it('refuses a cluster name that would break the layout', () => {
    expect(() => new ClusterKeys('a/b')).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
  });

  it('round-trips partition states and topics, and ignores malformed values', () => {
    expect(decodePartitionState('t', 0, encodePartitionState(state(), 42))).toEqual(state());
    expect(JSON.parse(encodePartitionState(state(), 42)).controllerEpoch).toBe(42);
    const topic = { name: 'x', topicId: 'id', partitions: 3, replicationFactor: 2, configs: { 'min.insync.replicas': '2' } };
    expect(decodeTopic('x', encodeTopic(topic))).toEqual(topic);
    expect(decodePartitionState('t', 0, '{"replicas":"no"}')).toBeNull();
    expect(decodeTopic('x', 'not json')).toBeNull();
  });
});
