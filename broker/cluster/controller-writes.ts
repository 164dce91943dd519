/**
 * Every write the controller makes, each one etcd transaction guarded by the controller's own
 * election key: `If(create_revision(election key) == mine)`. A controller that was paused or
 * cut off while another was elected holds a key that expired (create_revision 0 now) or was
 * replaced, so its writes are refused by etcd itself, whatever it still believes
 * (REPLICATION-FACTS.md §Q: the election alone does not fence a SIGSTOPped leader).
 */
import type { Etcd3, ITxnResponse } from 'etcd3';
import { SluiceError } from '../../proto/errors.js';
import type { ClusterKeys } from './keys.js';
import type { PartitionState } from './partition-state.js';
import { decodeControllerEpoch, decodePartitionState, encodePartitionState, encodeTopic, type TopicRecord } from './records.js';
import { storeError } from './store-error.js';

/** The election key this controller won with, and its create revision (the controller epoch). */
export interface ControllerFence {
  key: string;
  revision: string;
}

export interface PartitionEntry {
  state: PartitionState;
  modRevision: string;
  /** Of the controller that wrote it last; kept by AlterPartition writes. */
  controllerEpoch: number;
}

/** etcd refuses more operations than this in one transaction by default (--max-txn-ops). */
const maxTxnOps = 128;

export class ControllerWrites {
  readonly #client: Etcd3;
  readonly #keys: ClusterKeys;
  readonly #fence: ControllerFence;

  constructor(client: Etcd3, keys: ClusterKeys, fence: ControllerFence) {
    this.#client = client;
    this.#keys = keys;
    this.#fence = fence;
  }

  get epoch(): number {
    return Number(this.#fence.revision);
  }

  #guard() {
    return this.#client.if(this.#fence.key, 'Create', '==', this.#fence.revision);
  }

  /** Throws NOT_CONTROLLER when the failed transaction's read of the election key shows it is no longer ours. */
  #checkFence(kvs: Array<{ create_revision: string }> | undefined, what: string): void {
    if (kvs?.[0]?.create_revision !== this.#fence.revision) {
      throw new SluiceError('SLUICE_ERR_NOT_CONTROLLER', `${what} refused: this broker's controller session (epoch ${this.#fence.revision}) is no longer the elected one`);
    }
  }

  /** Writes a partition state if the stored one is still at `modRevision`: true written, false it moved on. */
  async writePartition(next: PartitionState, modRevision: string): Promise<boolean> {
    const key = this.#keys.partitionState(next.topic, next.partition);
    const what = `writing ${next.topic}-${next.partition}`;
    let result: ITxnResponse;
    try {
      result = await this.#guard().and(key, 'Mod', '==', modRevision)
        .then(this.#client.put(key).value(encodePartitionState(next, this.epoch)))
        .else(this.#client.get(this.#fence.key))
        .commit();
    } catch (error) {
      throw storeError(what, error);
    }
    if (result.succeeded) return true;
    this.#checkFence(result.responses[0]?.response_range.kvs, what);
    return false;
  }

  async readPartition(topic: string, partition: number): Promise<PartitionEntry | undefined> {
    try {
      const result = await this.#client.get(this.#keys.partitionState(topic, partition)).exec();
      const kv = result.kvs[0];
      const state = kv ? decodePartitionState(topic, partition, kv.value.toString()) : null;
      return kv && state ? { state, modRevision: kv.mod_revision, controllerEpoch: decodeControllerEpoch(kv.value.toString()) } : undefined;
    } catch (error) {
      throw storeError(`reading ${topic}-${partition}`, error);
    }
  }

  /**
   * The topic key (only if it does not exist yet) and its partition states. One transaction up to
   * etcd's operation limit; beyond it the rest follow in further guarded transactions, so a broker
   * may briefly see a topic whose later partitions have no state yet.
   */
  async createTopic(topic: TopicRecord, states: PartitionState[]): Promise<void> {
    const what = `creating topic ${topic.name}`;
    const topicKey = this.#keys.topic(topic.name);
    const put = (state: PartitionState) => this.#client.put(this.#keys.partitionState(state.topic, state.partition)).value(encodePartitionState(state, this.epoch));
    const first = states.slice(0, maxTxnOps - 1);
    let result: ITxnResponse;
    try {
      result = await this.#guard().and(topicKey, 'Version', '==', 0)
        .then(this.#client.put(topicKey).value(encodeTopic(topic)), ...first.map(put))
        .else(this.#client.get(this.#fence.key), this.#client.get(topicKey))
        .commit();
    } catch (error) {
      throw storeError(what, error);
    }
    if (!result.succeeded) {
      this.#checkFence(result.responses[0]?.response_range.kvs, what);
      throw new SluiceError('SLUICE_ERR_TOPIC_ALREADY_EXISTS', `topic ${topic.name} already exists`);
    }
    for (let start = first.length; start < states.length; start += maxTxnOps - 1) {
      const chunk = states.slice(start, start + maxTxnOps - 1);
      try {
        result = await this.#guard().then(...chunk.map(put)).else(this.#client.get(this.#fence.key)).commit();
      } catch (error) {
        throw storeError(what, error);
      }
      if (!result.succeeded) this.#checkFence(result.responses[0]?.response_range.kvs, what);
    }
  }

  /**
   * A changed topic record (more partitions, other configs) and the states of its new
   * partitions, if the topic still exists and those partitions do not; the rest of a long list
   * of states follows in further guarded transactions, as in createTopic.
   */
  async updateTopic(topic: TopicRecord, newStates: PartitionState[] = []): Promise<void> {
    const what = `updating topic ${topic.name}`;
    const topicKey = this.#keys.topic(topic.name);
    const put = (state: PartitionState) => this.#client.put(this.#keys.partitionState(state.topic, state.partition)).value(encodePartitionState(state, this.epoch));
    const first = newStates.slice(0, maxTxnOps - 1);
    let guard = this.#guard().and(topicKey, 'Version', '>', 0);
    if (first[0] !== undefined) guard = guard.and(this.#keys.partitionState(topic.name, first[0].partition), 'Version', '==', 0);
    let result: ITxnResponse;
    try {
      result = await guard.then(this.#client.put(topicKey).value(encodeTopic(topic)), ...first.map(put))
        .else(this.#client.get(this.#fence.key))
        .commit();
    } catch (error) {
      throw storeError(what, error);
    }
    if (!result.succeeded) {
      this.#checkFence(result.responses[0]?.response_range.kvs, what);
      throw new SluiceError('SLUICE_ERR_INVALID_UPDATE_VERSION', `topic ${topic.name} was deleted or changed meanwhile; look at it again and retry`);
    }
    for (let start = first.length; start < newStates.length; start += maxTxnOps - 1) {
      const chunk = newStates.slice(start, start + maxTxnOps - 1);
      try {
        result = await this.#guard().then(...chunk.map(put)).else(this.#client.get(this.#fence.key)).commit();
      } catch (error) {
        throw storeError(what, error);
      }
      if (!result.succeeded) this.#checkFence(result.responses[0]?.response_range.kvs, what);
    }
  }

  async deleteTopic(name: string): Promise<void> {
    const what = `deleting topic ${name}`;
    const topicKey = this.#keys.topic(name);
    let result: ITxnResponse;
    try {
      result = await this.#guard().and(topicKey, 'Version', '>', 0)
        .then(this.#client.delete().key(topicKey), this.#client.delete().prefix(this.#keys.partitionsOf(name)))
        .else(this.#client.get(this.#fence.key))
        .commit();
    } catch (error) {
      throw storeError(what, error);
    }
    if (!result.succeeded) {
      this.#checkFence(result.responses[0]?.response_range.kvs, what);
      throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    }
  }
}
