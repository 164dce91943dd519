/**
 * Without --cluster a broker is a cluster of one: DescribeCluster lists it as the controller
 * leading every partition, metadata gives each partition leader epoch 0 and itself as the only
 * replica, a replication factor above 1 is refused, and elections are never needed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../proto/errors.js';
import { Api, type DescribeClusterResponse, type ElectLeadersResponse, type MetadataResponse, type CreateTopicsResponse } from '../../proto/messages.js';
import { encodeRequest } from '../../proto/wire.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupBrokers);

describe('a single broker as a cluster of one', () => {
  it('describes itself, refuses replication it cannot give, and needs no elections', async () => {
    const broker = await startBroker();
    const client = await RawClient.connect(broker.port);
    let correlationId = 0;
    const ask = async (api: number, body: Record<string, unknown>) => {
      correlationId += 1;
      client.send(encodeRequest({ api, version: 1, correlationId, clientId: 'test', ...body }));
      const response = await client.response(correlationId);
      expect(response?.errorCode).toBe(0);
      return response!;
    };

    const created = (await ask(Api.CREATE_TOPICS, { createTopics: { topics: [{ name: 'events', partitions: 2 }, { name: 'copies', partitions: 1, replicationFactor: 3 }] } })).createTopics as CreateTopicsResponse;
    expect(created.topics.map((topic) => topic.errorCode)).toEqual([0, errorCodes.SLUICE_ERR_INVALID_REPLICATION_FACTOR.wire]);
    expect(created.topics[1]!.errorMessage).toMatch(/replication factor 3 needs 3 brokers/);

    const cluster = (await ask(Api.DESCRIBE_CLUSTER, { describeCluster: {} })).describeCluster as DescribeClusterResponse;
    expect(cluster.controllerId).toBe(0);
    expect(cluster.brokers).toEqual([expect.objectContaining({ nodeId: 0, port: broker.port, alive: true, leaderCount: 2 })]);

    const metadata = (await ask(Api.METADATA, { metadata: { topics: ['events'] } })).metadata as MetadataResponse;
    expect(metadata.controllerId).toBe(0);
    // Decoded proto3 zeros live on the prototype: read the fields one by one.
    expect(metadata.topics[0]!.partitions.map(({ partition, leader, leaderEpoch, replicas, isr }) => ({ partition, leader, leaderEpoch, replicas, isr })))
      .toEqual([0, 1].map((partition) => ({ partition, leader: 0, leaderEpoch: 0, replicas: [0], isr: [0] })));

    const elected = (await ask(Api.ELECT_LEADERS, { electLeaders: { electionType: 0, topics: [{ name: 'events', partitions: [0, 5] }] } })).electLeaders as ElectLeadersResponse;
    expect(elected.topics[0]!.partitions.map((partition) => partition.errorCode)).toEqual([
      errorCodes.SLUICE_ERR_ELECTION_NOT_NEEDED.wire, errorCodes.SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION.wire,
    ]);
    client.close();
  });
});
