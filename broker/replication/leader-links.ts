/**
 * Requests to the leader of a partition this broker does not lead — the share coordinator's
 * data reads and DLQ appends, delayed delivery's timer and target appends: one broker-to-broker
 * link per leader, as the transaction coordinator's marker sender keeps them.
 */
import { SluiceError } from '../../proto/errors.js';
import type { ApiKey, RequestBodies, ResponseBodies } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { BrokerLink } from '../replication/broker-link.js';

const requestTimeoutMs = 10_000;

export class LeaderLinks {
  readonly #context: () => BrokerContext;
  readonly #links = new Map<string, BrokerLink>();

  constructor(context: () => BrokerContext) {
    this.#context = context;
  }

  /** The partition's leader (node id); throws LEADER_NOT_AVAILABLE when it has none. */
  leaderOf(topic: string, partition: number): number {
    const described = this.#context().cluster.describeTopic(topic)?.find((entry) => entry.partition === partition);
    if (described === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition} does not exist`);
    if (described.leader < 0) throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `${topic}-${partition} has no leader now`);
    return described.leader;
  }

  get self(): number {
    return this.#context().settings.nodeId;
  }

  async request<F extends keyof RequestBodies>(nodeId: number, api: ApiKey, body: RequestBodies[F]): Promise<ResponseBodies[F]> {
    const context = this.#context();
    const broker = context.cluster.brokers().find((candidate) => candidate.nodeId === nodeId);
    if (broker === undefined) throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `broker ${nodeId} is not alive`);
    const address = `${broker.host}:${broker.port}`;
    let link = this.#links.get(address);
    if (link === undefined) {
      link = new BrokerLink({ host: broker.host, port: broker.port, clientId: `share-coordinator-${context.settings.nodeId}`, timeoutMs: requestTimeoutMs, frameBytesMax: 64 * 1024 * 1024 });
      this.#links.set(address, link);
    }
    return await link.request<F>(api, body);
  }

  close(): void {
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }
}
