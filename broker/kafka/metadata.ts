/**
 * Metadata: the brokers at their Kafka listeners' advertised addresses (in a cluster, every
 * broker registers its own), the controller, and per topic its id and partitions from the
 * metadata service. A null topic list (or, in v0, an empty one) asks for every topic; from v12
 * topics may be named by id. Unknown topics are auto-created only when the broker does that and
 * the request allows it (v4+).
 */
import { ZERO_UUID } from '../../proto/kafka/codec.js';
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';
import { metadataRequest, metadataResponse } from '../../proto/kafka/messages/metadata.js';
import { describeTopics } from '../services/metadata.js';
import { isInternalTopic } from '../topics/topic-name.js';
import { kafkaResultError } from './errors.js';
import { kafkaHandler } from './handler.js';

const unknownTopicId = kafkaErrorCodes.UNKNOWN_TOPIC_ID;
const authorizedOperationsUnknown = -2147483648;

export const metadataHandler = kafkaHandler({
  name: 'Metadata',
  request: metadataRequest,
  response: metadataResponse,
  handle(request, { version, broker }) {
    const cluster = broker.cluster;
    const all = request.topics === null || (version === 0 && request.topics.length === 0);
    const asked = (request.topics ?? []).map((topic) => {
      if (topic.name !== null) return { name: topic.name, id: undefined };
      return { name: cluster.topicName(topic.topicId), id: topic.topicId };
    });
    const byName = asked.flatMap((topic) => (topic.name === undefined ? [] : [topic.name]));
    const described = describeTopics(broker, all ? undefined : byName, request.allowAutoTopicCreation);
    const topics = described.map((topic) => ({
      errorCode: kafkaResultError(topic, 'partition').errorCode,
      name: topic.name,
      topicId: cluster.topicId(topic.name) ?? ZERO_UUID,
      isInternal: isInternalTopic(topic.name),
      partitions: topic.partitions.map((partition) => ({
        errorCode: kafkaResultError(partition, 'partition').errorCode,
        partitionIndex: partition.partition,
        leaderId: partition.leader,
        leaderEpoch: partition.leaderEpoch ?? -1,
        replicaNodes: partition.replicas,
        isrNodes: partition.isr,
        offlineReplicas: partition.offlineReplicas ?? [],
      })),
      topicAuthorizedOperations: authorizedOperationsUnknown,
    }));
    const unknownIds = asked.flatMap((topic) => (topic.name === undefined
      ? [{ errorCode: unknownTopicId, name: null, topicId: topic.id!, isInternal: false, partitions: [], topicAuthorizedOperations: authorizedOperationsUnknown }]
      : []));
    return {
      throttleTimeMs: 0,
      brokers: cluster.kafkaBrokers().map((node) => ({ nodeId: node.nodeId, host: node.host, port: node.port, rack: node.rack || null })),
      clusterId: cluster.clusterId,
      controllerId: cluster.controllerId(),
      topics: [...topics, ...unknownIds],
      errorCode: 0,
    };
  },
  failed: (_request, error) => ({ throttleTimeMs: 0, brokers: [], controllerId: -1, topics: [], errorCode: error.errorCode }),
});
