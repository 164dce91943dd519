/**
 * Delivers a transaction's commit or abort markers to every partition of it, as Kafka's
 * TransactionMarkerChannelManager does: partitions this broker leads get theirs through the
 * local WriteTxnMarkers service, the others through a native WRITE_TXN_MARKERS request to their
 * leader. A partition that answers an error (a moved leader, a broker down, too few replicas)
 * is retried after looking its leader up again, with a growing pause, until its marker lands:
 * the transaction cannot complete before, and consumers reading committed data wait on it. Only
 * a deleted topic, the coordinator itself losing the transaction, or a partition saying a newer
 * coordinator wrote this producer's markers (TRANSACTION_COORDINATOR_FENCED) stops the retries.
 */
import type { Logger } from 'pino';
import { errorCodes, errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api, type WriteTxnMarkersRequest, type WriteTxnMarkersResponse } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { BrokerLink } from '../replication/broker-link.js';
import { writeTxnMarkers } from '../services/txn-markers.js';
import { groupByTopic, type TxnPartition } from './txn-record.js';

export interface Marker {
  producerId: number;
  producerEpoch: number;
  committed: boolean;
  coordinatorEpoch: number;
}

const fencedWire = errorCodes.SLUICE_ERR_TRANSACTION_COORDINATOR_FENCED.wire;
const staleEpochWire = errorCodes.SLUICE_ERR_INVALID_PRODUCER_EPOCH.wire;
const backoffMinMs = 50;
const backoffMaxMs = 1000;
const requestTimeoutMs = 30_000;

const key = (entry: TxnPartition) => `${entry.topic}\u0000${entry.partition}`;

export class MarkerSender {
  readonly #context: () => BrokerContext;
  readonly #logger: Logger;
  readonly #links = new Map<string, BrokerLink>();
  #closed = false;

  constructor(context: () => BrokerContext, logger: Logger) {
    this.#context = context;
    this.#logger = logger;
  }

  /**
   * Resolves once every partition has the marker; rejects with ABORTED when `stillWanted` turns
   * false (the coordinator lost the transaction) or the sender is closed.
   */
  async send(marker: Marker, partitions: readonly TxnPartition[], stillWanted: () => boolean): Promise<void> {
    const remaining = new Map(partitions.map((entry) => [key(entry), entry]));
    let backoffMs = backoffMinMs;
    for (let attempt = 1; remaining.size > 0; attempt += 1) {
      if (this.#closed || !stillWanted()) throw new SluiceError('SLUICE_ERR_ABORTED', 'markers no longer wanted here: the coordinator stopped or lost the transaction');
      const failures: string[] = [];
      let fenced: string | undefined;
      const byLeader = this.#byLeader([...remaining.values()], remaining, failures);
      await Promise.all([...byLeader].map(async ([leader, entries]) => {
        const request: WriteTxnMarkersRequest = { markers: [{ ...marker, topics: groupByTopic(entries).map(({ topic, partitions: list }) => ({ name: topic, partitions: list })) }] };
        let response: WriteTxnMarkersResponse;
        try {
          response = await this.#write(leader, request);
        } catch (error) {
          failures.push(`broker ${leader}: ${(error as Error).message}`);
          return;
        }
        for (const topic of response.markers[0]?.topics ?? []) {
          for (const result of topic.partitions) {
            const entry = { topic: topic.name, partition: result.partition };
            if (result.errorCode === 0) remaining.delete(key(entry));
            else if (result.errorCode === fencedWire) fenced = `${entry.topic}-${entry.partition}: ${result.errorMessage}`;
            else if (result.errorCode === staleEpochWire) {
              // The partition already has a newer epoch of this producer: the transaction was superseded there; retrying cannot help.
              this.#logger.warn({ topic: entry.topic, partition: entry.partition, producerId: marker.producerId, producerEpoch: marker.producerEpoch, reason: result.errorMessage }, 'transaction marker dropped: the partition has a newer epoch of the producer');
              remaining.delete(key(entry));
            }
            else if (this.#deleted(entry)) {
              this.#logger.warn({ topic: entry.topic, partition: entry.partition, producerId: marker.producerId }, 'transaction marker dropped: the partition no longer exists');
              remaining.delete(key(entry));
            } else failures.push(`${entry.topic}-${entry.partition}: ${errorFromWire(result.errorCode, result.errorMessage).message}`);
          }
        }
      }));
      if (remaining.size === 0) return;
      // A newer coordinator (a higher coordinator epoch) wrote markers for this producer: it owns the transaction now.
      if (fenced !== undefined) throw new SluiceError('SLUICE_ERR_ABORTED', `a newer transaction coordinator owns producer ${marker.producerId}'s transaction (${fenced}); this one stops sending its markers`);
      if (attempt === 1 || attempt % 20 === 0) {
        this.#logger.warn({ producerId: marker.producerId, committed: marker.committed, remaining: remaining.size, attempt, failures: failures.slice(0, 5) }, 'transaction markers not all written yet; retrying');
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs).unref());
      backoffMs = Math.min(backoffMaxMs, backoffMs * 2);
    }
  }

  close(): void {
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }

  /** Partitions per leader node id; those without a leader (or whose topic is gone) are noted and left for the next round. */
  #byLeader(entries: TxnPartition[], remaining: Map<string, TxnPartition>, failures: string[]): Map<number, TxnPartition[]> {
    const context = this.#context();
    const byLeader = new Map<number, TxnPartition[]>();
    for (const entry of entries) {
      const described = context.cluster.describeTopic(entry.topic);
      if (described === undefined || !described.some((partition) => partition.partition === entry.partition)) {
        this.#logger.warn({ topic: entry.topic, partition: entry.partition }, 'transaction marker dropped: the partition no longer exists');
        remaining.delete(key(entry));
        continue;
      }
      const leader = described.find((partition) => partition.partition === entry.partition)!.leader;
      if (leader < 0) {
        failures.push(`${entry.topic}-${entry.partition}: no leader`);
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(entry);
      byLeader.set(leader, list);
    }
    return byLeader;
  }

  #deleted(entry: TxnPartition): boolean {
    const described = this.#context().cluster.describeTopic(entry.topic);
    return described === undefined || !described.some((partition) => partition.partition === entry.partition);
  }

  async #write(leader: number, request: WriteTxnMarkersRequest): Promise<WriteTxnMarkersResponse> {
    const context = this.#context();
    if (leader === context.settings.nodeId) return await writeTxnMarkers(context, request);
    const broker = context.cluster.brokers().find((candidate) => candidate.nodeId === leader);
    if (broker === undefined) throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `broker ${leader} is not alive`);
    const address = `${broker.host}:${broker.port}`;
    let link = this.#links.get(address);
    if (link === undefined) {
      link = new BrokerLink({ host: broker.host, port: broker.port, clientId: `txn-coordinator-${context.settings.nodeId}`, timeoutMs: requestTimeoutMs, frameBytesMax: 16 * 1024 * 1024 });
      this.#links.set(address, link);
    }
    return await link.request<'writeTxnMarkers'>(Api.WRITE_TXN_MARKERS, request);
  }
}
