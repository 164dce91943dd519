/**
 * Where the cluster's metadata lives in etcd (REPLICATION-FACTS.md §Q), under
 * `/sluice/<cluster>/`: one key per broker registration (on the broker's lease), the controller
 * election, one key per topic and one per partition state, so every decision is one
 * compare-and-swap on the keys it reads.
 */
import { SluiceError } from '../../proto/errors.js';

export type ParsedKey =
  | { kind: 'broker'; nodeId: number }
  | { kind: 'controller' }
  | { kind: 'topic'; name: string }
  | { kind: 'partition'; topic: string; partition: number };

const clusterNamePattern = /^[a-zA-Z0-9._-]{1,100}$/;

export class ClusterKeys {
  readonly root: string;
  readonly brokers: string;
  /** etcd3's Election keeps its candidates under `<namespace>election/<name>/`. */
  readonly electionName = 'controller';
  readonly election: string;
  readonly topics: string;
  readonly partitions: string;
  /** The last block of producer ids any broker claimed (broker/services/producer-ids.ts). */
  readonly producerIdBlock: string;

  constructor(clusterName: string) {
    if (!clusterNamePattern.test(clusterName)) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `cluster name "${clusterName}" must be 1..100 characters of [a-zA-Z0-9._-]`);
    }
    this.root = `/sluice/${clusterName}/`;
    this.brokers = `${this.root}brokers/ids/`;
    this.election = `${this.root}election/${this.electionName}/`;
    this.topics = `${this.root}topics/`;
    this.partitions = `${this.root}partitions/`;
    this.producerIdBlock = `${this.root}producer-id-block`;
  }

  broker(nodeId: number): string {
    return `${this.brokers}${nodeId}`;
  }

  topic(name: string): string {
    return `${this.topics}${name}`;
  }

  /** Prefix of every partition key of a topic (the trailing slash keeps "a" from matching "ab"). */
  partitionsOf(topic: string): string {
    return `${this.partitions}${topic}/`;
  }

  partitionState(topic: string, partition: number): string {
    return `${this.partitionsOf(topic)}${partition}/state`;
  }

  parse(key: string): ParsedKey | null {
    if (key.startsWith(this.brokers)) {
      const nodeId = Number(key.slice(this.brokers.length));
      return Number.isInteger(nodeId) && nodeId >= 0 ? { kind: 'broker', nodeId } : null;
    }
    if (key.startsWith(this.election)) return { kind: 'controller' };
    if (key.startsWith(this.topics)) return { kind: 'topic', name: key.slice(this.topics.length) };
    if (key.startsWith(this.partitions)) {
      // Topic names cannot contain '/', so the last two segments are the partition and "state".
      const match = /^(.+)\/(\d+)\/state$/.exec(key.slice(this.partitions.length));
      return match ? { kind: 'partition', topic: match[1]!, partition: Number(match[2]) } : null;
    }
    return null;
  }
}
