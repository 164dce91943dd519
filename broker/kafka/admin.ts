/**
 * Admin APIs on the Kafka listener — CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords,
 * DescribeConfigs, IncrementalAlterConfigs, DescribeCluster — over the same services as the
 * native admin calls. In a cluster, topic changes go to the controller (others answer
 * NOT_CONTROLLER and clients follow Metadata's controller id); placement is Sluice's own, so a
 * request that assigns replicas by hand is refused.
 */
import { ZERO_UUID } from '../../proto/kafka/codec.js';
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';
import { createPartitionsRequest, createPartitionsResponse } from '../../proto/kafka/messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from '../../proto/kafka/messages/create-topics.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../proto/kafka/messages/delete-records.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../../proto/kafka/messages/delete-topics.js';
import { describeClusterRequest, describeClusterResponse } from '../../proto/kafka/messages/describe-cluster.js';
import { describeConfigsRequest, describeConfigsResponse } from '../../proto/kafka/messages/describe-configs.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../../proto/kafka/messages/incremental-alter-configs.js';
import { SluiceError } from '../../proto/errors.js';
import type { BrokerContext } from '../api/context.js';
import { type AlterOperation, alterTopicConfigs, type ConfigEntry, describeBrokerConfigs, describeTopicConfigs } from '../services/configs.js';
import { deleteRecords } from '../services/delete-records.js';
import { createPartitions, createTopics, deleteTopics } from '../services/topics-admin.js';
import { kafkaError, kafkaResultError } from './errors.js';
import { errorMessage, kafkaHandler } from './handler.js';

const manualAssignment = () => new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'replicas are placed by Sluice; leave out the manual assignment');

/** The topic as created, for CreateTopics v5+: its partition count, replication factor and configs. */
function createdTopic(broker: BrokerContext, name: string) {
  const partitions = broker.cluster.describeTopic(name);
  if (partitions === undefined) return {};
  return {
    numPartitions: partitions.length,
    replicationFactor: partitions[0]?.replicas.length ?? -1,
    configs: describeTopicConfigs(broker, name).map((entry) => ({
      name: entry.name, value: entry.value, readOnly: entry.readOnly, configSource: configSource(entry), isSensitive: false,
    })),
  };
}

export const createTopicsHandler = kafkaHandler({
  name: 'CreateTopics',
  request: createTopicsRequest,
  response: createTopicsResponse,
  scope: 'admin',
  async handle(request, { broker }) {
    const manual = new Set(request.topics.filter((topic) => topic.assignments.length > 0).map((topic) => topic.name));
    const wanted = request.topics.filter((topic) => !manual.has(topic.name)).map((topic) => ({
      name: topic.name,
      // −1: the broker's defaults (num.partitions, default.replication.factor).
      partitions: topic.numPartitions === -1 ? broker.settings.defaultPartitions : topic.numPartitions,
      ...(topic.replicationFactor === -1 ? {} : { replicationFactor: topic.replicationFactor }),
      configs: Object.fromEntries(topic.configs.flatMap((config) => (config.value === null ? [] : [[config.name, config.value]]))),
    }));
    const results = new Map((await createTopics(broker, wanted, request.validateOnly, request.timeoutMs)).map((result) => [result.name, result]));
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => {
        const error = manual.has(topic.name) ? kafkaError(manualAssignment(), 'admin') : kafkaResultError(results.get(topic.name)!, 'admin');
        const created = error.errorCode !== 0 ? {} : request.validateOnly
          ? { numPartitions: topic.numPartitions, replicationFactor: topic.replicationFactor }
          : createdTopic(broker, topic.name);
        return { name: topic.name, topicId: broker.cluster.topicId(topic.name) ?? ZERO_UUID, errorCode: error.errorCode, errorMessage: errorMessage(error), ...created };
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({ name: topic.name, errorCode: error.errorCode, errorMessage: errorMessage(error) })),
  }),
});

/** Up to v5 by name; v6 by name or id. */
export const deleteTopicsHandler = kafkaHandler({
  name: 'DeleteTopics',
  request: deleteTopicsRequest,
  response: deleteTopicsResponse,
  scope: 'admin',
  async handle(request, { version, broker }) {
    const asked = version >= 6
      ? request.topics.map((topic) => ({ name: topic.name ?? broker.cluster.topicName(topic.topicId), topicId: topic.topicId }))
      : request.topicNames.map((name) => ({ name, topicId: broker.cluster.topicId(name) ?? ZERO_UUID }));
    const names = asked.flatMap((topic) => (topic.name === undefined ? [] : [topic.name]));
    const results = new Map((await deleteTopics(broker, names, request.timeoutMs)).map((result) => [result.name, result]));
    return {
      throttleTimeMs: 0,
      responses: asked.map((topic) => {
        if (topic.name === undefined) return { name: null, topicId: topic.topicId, errorCode: kafkaErrorCodes.UNKNOWN_TOPIC_ID, errorMessage: `no topic has id ${topic.topicId}` };
        const error = kafkaResultError(results.get(topic.name)!, 'admin');
        return { name: topic.name, topicId: topic.topicId, errorCode: error.errorCode, errorMessage: errorMessage(error) };
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    responses: [...request.topicNames.map((name) => ({ name, topicId: ZERO_UUID })), ...request.topics]
      .map((topic) => ({ name: topic.name, topicId: topic.topicId, errorCode: error.errorCode, errorMessage: errorMessage(error) })),
  }),
});

export const createPartitionsHandler = kafkaHandler({
  name: 'CreatePartitions',
  request: createPartitionsRequest,
  response: createPartitionsResponse,
  scope: 'admin',
  async handle(request, { broker }) {
    const manual = new Set(request.topics.filter((topic) => topic.assignments !== null).map((topic) => topic.name));
    const results = new Map((await createPartitions(broker, request.topics.filter((topic) => !manual.has(topic.name)), request.validateOnly))
      .map((result) => [result.name, result]));
    return {
      throttleTimeMs: 0,
      results: request.topics.map((topic) => {
        const error = manual.has(topic.name) ? kafkaError(manualAssignment(), 'admin') : kafkaResultError(results.get(topic.name)!, 'admin');
        return { name: topic.name, errorCode: error.errorCode, errorMessage: errorMessage(error) };
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0, results: request.topics.map((topic) => ({ name: topic.name, errorCode: error.errorCode, errorMessage: errorMessage(error) })),
  }),
});

export const deleteRecordsHandler = kafkaHandler({
  name: 'DeleteRecords',
  request: deleteRecordsRequest,
  response: deleteRecordsResponse,
  handle(request, { broker }) {
    const results = deleteRecords(broker, request.topics.map((topic) => ({
      name: topic.name, partitions: topic.partitions.map((partition) => ({ partition: partition.partitionIndex, offset: partition.offset })),
    })));
    return {
      throttleTimeMs: 0,
      topics: results.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((result) => ({
          partitionIndex: result.partition, lowWatermark: result.lowWatermark, errorCode: kafkaResultError(result, 'partition').errorCode,
        })),
      })),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name, partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, lowWatermark: -1, errorCode: error.errorCode })),
    })),
  }),
});

/** Kafka's resource types. */
const resourceType = { topic: 2, broker: 4, brokerLogger: 8 } as const;
/** Kafka's config sources. */
const source = { dynamicTopic: 1, staticBroker: 4, default: 5 } as const;
/** Kafka's config types, for the settings Sluice has. */
const configTypes: Record<string, number> = {
  'cleanup.policy': 7, 'message.timestamp.type': 2, 'min.cleanable.dirty.ratio': 6, 'unclean.leader.election.enable': 1,
  'max.message.bytes': 3, 'segment.bytes': 3, 'index.interval.bytes': 3, 'segment.index.bytes': 3, 'min.insync.replicas': 3,
};
const longType = 5;

function configSource(entry: ConfigEntry): number {
  return entry.source === 'topic' ? source.dynamicTopic : entry.source === 'broker' ? source.staticBroker : source.default;
}

/** Topics, and this broker (by its node id, or an empty name); broker loggers have nothing to show. */
function describeResource(broker: BrokerContext, type: number, name: string, keys: readonly string[] | null): ConfigEntry[] {
  if (type === resourceType.topic) return describeTopicConfigs(broker, name, keys);
  if (type === resourceType.broker && (name === '' || name === String(broker.settings.nodeId))) return describeBrokerConfigs(broker, keys);
  if (type === resourceType.brokerLogger) return [];
  throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `no config resource of type ${type} named ${JSON.stringify(name)} on broker ${broker.settings.nodeId}`);
}

export const describeConfigsHandler = kafkaHandler({
  name: 'DescribeConfigs',
  request: describeConfigsRequest,
  response: describeConfigsResponse,
  scope: 'admin',
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      results: request.resources.map((resource) => {
        try {
          const entries = describeResource(broker, resource.resourceType, resource.resourceName, resource.configurationKeys);
          return {
            errorCode: 0, errorMessage: null, resourceType: resource.resourceType, resourceName: resource.resourceName,
            configs: entries.map((entry) => ({
              name: entry.name, value: entry.value, readOnly: entry.readOnly, isDefault: entry.source === 'default', configSource: configSource(entry),
              isSensitive: false, synonyms: [], configType: configTypes[entry.name] ?? longType, documentation: null,
            })),
          };
        } catch (error) {
          const failure = kafkaError(error, 'admin');
          return { errorCode: failure.errorCode, errorMessage: errorMessage(failure), resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [] };
        }
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    results: request.resources.map((resource) => ({
      errorCode: error.errorCode, errorMessage: errorMessage(error), resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [],
    })),
  }),
});

const operations: readonly AlterOperation[] = ['set', 'delete', 'append', 'subtract'];

export const incrementalAlterConfigsHandler = kafkaHandler({
  name: 'IncrementalAlterConfigs',
  request: incrementalAlterConfigsRequest,
  response: incrementalAlterConfigsResponse,
  scope: 'admin',
  async handle(request, { broker }) {
    const responses = await Promise.all(request.resources.map(async (resource) => {
      try {
        if (resource.resourceType !== resourceType.topic) {
          throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'only topic configs can be changed; broker settings are flags of `sluice broker`');
        }
        const changes = resource.configs.map((config) => {
          const operation = operations[config.configOperation];
          if (operation === undefined) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `config operation ${config.configOperation} is not 0 (set), 1 (delete), 2 (append) or 3 (subtract)`);
          return { name: config.name, operation, value: config.value };
        });
        await alterTopicConfigs(broker, resource.resourceName, changes, request.validateOnly);
        return { errorCode: 0, errorMessage: null, resourceType: resource.resourceType, resourceName: resource.resourceName };
      } catch (error) {
        const failure = kafkaError(error, 'admin');
        return { errorCode: failure.errorCode, errorMessage: errorMessage(failure), resourceType: resource.resourceType, resourceName: resource.resourceName };
      }
    }));
    return { throttleTimeMs: 0, responses };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    responses: request.resources.map((resource) => ({
      errorCode: error.errorCode, errorMessage: errorMessage(error), resourceType: resource.resourceType, resourceName: resource.resourceName,
    })),
  }),
});

/** The brokers at their Kafka addresses (endpoint type 1); controllers (type 2) are not separate processes here. */
export const describeClusterHandler = kafkaHandler({
  name: 'DescribeCluster',
  request: describeClusterRequest,
  response: describeClusterResponse,
  scope: 'admin',
  handle(request, { broker }) {
    if (request.endpointType !== 1) {
      throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `endpoint type ${request.endpointType} is not served: Sluice brokers are their own controllers (ask for brokers, type 1)`);
    }
    const cluster = broker.cluster;
    return {
      throttleTimeMs: 0, errorCode: 0, errorMessage: null, endpointType: 1, clusterId: cluster.clusterId, controllerId: cluster.controllerId(),
      brokers: cluster.kafkaBrokers().map((node) => ({ brokerId: node.nodeId, host: node.host, port: node.port, rack: node.rack || null })),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0, errorCode: error.errorCode, errorMessage: errorMessage(error), endpointType: request.endpointType, clusterId: '', brokers: [],
  }),
});
