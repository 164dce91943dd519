/**
 * In-process brokers replicating to each other, without the metadata layer: a test creates
 * topics on every broker and sets partition states by hand through an in-memory store that
 * applies Kafka's AlterPartition checks as a compare-and-swap (REPLICATION-FACTS.md §I) and
 * delivers every accepted state to every broker, as an etcd watch would.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Broker } from '../../broker/broker.js';
import type { AlterPartitionOutcome, BrokerEndpoint, IsrProposal, PartitionState, PartitionStateWriter } from '../../broker/cluster/partition-state.js';
import { limits } from '../../broker/limits.js';
import type { ReplicationSettings } from '../../broker/replication/replication-settings.js';

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class InMemoryPartitionStates implements PartitionStateWriter {
  readonly states = new Map<string, PartitionState>();
  /** Brokers whose registration is valid, with their epochs (ISR eligibility). */
  readonly alive = new Map<number, number>();
  /** false: every write answers 'unavailable', as an unreachable etcd. */
  available = true;
  readonly #subscribers: Array<(state: PartitionState) => void> = [];
  readonly proposals: IsrProposal[] = [];

  subscribe(apply: (state: PartitionState) => void): void {
    this.#subscribers.push(apply);
  }

  /** A controller decision: stored and delivered to every broker. */
  set(state: PartitionState): void {
    this.states.set(key(state.topic, state.partition), state);
    for (const apply of this.#subscribers) apply(state);
  }

  get(topic: string, partition: number): PartitionState {
    return this.states.get(key(topic, partition))!;
  }

  /** Moves leadership (leader epoch and partition epoch bumped), as an election would. */
  elect(topic: string, partition: number, leader: number, isr?: number[]): PartitionState {
    const current = this.get(topic, partition);
    const next = { ...current, leader, isr: isr ?? current.isr, leaderEpoch: current.leaderEpoch + 1, partitionEpoch: current.partitionEpoch + 1 };
    this.set(next);
    return next;
  }

  async alterPartition(proposal: IsrProposal): Promise<AlterPartitionOutcome> {
    this.proposals.push(proposal);
    await Promise.resolve();
    if (!this.available) return { kind: 'unavailable', message: 'store unreachable' };
    const stored = this.states.get(key(proposal.topic, proposal.partition));
    if (stored === undefined) return { kind: 'stale', message: 'unknown partition' };
    if (proposal.leaderEpoch > stored.leaderEpoch || proposal.partitionEpoch > stored.partitionEpoch) return { kind: 'stale', message: 'NOT_CONTROLLER' };
    if (proposal.leaderEpoch < stored.leaderEpoch) return { kind: 'stale', message: 'FENCED_LEADER_EPOCH' };
    if (proposal.leaderId !== stored.leader) return { kind: 'rejected', code: 'SLUICE_ERR_INVALID_REQUEST', message: 'sender is not the leader' };
    if (proposal.partitionEpoch < stored.partitionEpoch) return { kind: 'stale', message: 'INVALID_UPDATE_VERSION' };
    if (!proposal.isr.includes(stored.leader) || proposal.isr.some((id) => !stored.replicas.includes(id))) {
      return { kind: 'rejected', code: 'SLUICE_ERR_INVALID_REQUEST', message: 'ISR must hold the leader and only replicas' };
    }
    for (const id of proposal.isr) {
      if (stored.isr.includes(id)) continue;
      const epoch = this.alive.get(id);
      const sent = proposal.brokerEpochs[id] ?? -1;
      if (epoch === undefined || (sent !== -1 && sent !== epoch)) return { kind: 'rejected', code: 'SLUICE_ERR_INELIGIBLE_REPLICA', message: `broker ${id} is not eligible` };
    }
    const next = { ...stored, isr: [...proposal.isr], partitionEpoch: stored.partitionEpoch + 1 };
    this.set(next);
    return { kind: 'committed', state: next };
  }
}

/**
 * A TCP relay between a follower and its leader that a test can hold: paused, it forwards
 * nothing either way (bytes wait in the relay), as a stalled network path would.
 */
export class PausableLink {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #held: Array<() => void> = [];
  #paused = false;
  port = 0;

  constructor(targetPort: number) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      const forward = (from: net.Socket, to: net.Socket) => {
        from.on('data', (chunk: Buffer) => {
          if (this.#paused) this.#held.push(() => to.write(chunk));
          else to.write(chunk);
        });
      };
      forward(client, upstream);
      forward(upstream, client);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('error', () => {});
        socket.once('close', () => {
          this.#sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.#server.address() as net.AddressInfo).port;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const send of this.#held.splice(0)) send();
  }

  async close(): Promise<void> {
    this.#held.length = 0;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface ClusterNode {
  nodeId: number;
  broker: Broker;
  port: number;
  directory: string;
}

export class ReplicationCluster {
  readonly store = new InMemoryPartitionStates();
  readonly nodes: ClusterNode[] = [];
  readonly brokers = new Map<number, BrokerEndpoint>();
  /** links.get(`${follower}>${leader}`): the path a follower's fetches to that leader take. */
  readonly links = new Map<string, PausableLink>();
  /** What each broker sees as the others' addresses: their relays. */
  readonly #views = new Map<number, Map<number, BrokerEndpoint>>();

  link(follower: number, leader: number): PausableLink {
    return this.links.get(`${follower}>${leader}`)!;
  }

  static async start(count: number, settings: Partial<ReplicationSettings>): Promise<ReplicationCluster> {
    const cluster = new ReplicationCluster();
    for (let nodeId = 0; nodeId < count; nodeId += 1) {
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-replication-${nodeId}-`));
      const brokerEpoch = 100 + nodeId;
      const broker = new Broker({
        dataDirectory: directory, host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: -1, autoCreateTopics: false, defaultPartitions: 1,
        logDefaults: {}, frameBytesMax: limits.frameBytesMax, idleTimeoutMs: limits.idleTimeoutMs, groupInitialRebalanceDelayMs: 100,
        logger: pino({ level: 'silent' }), nodeId,
        replication: { writer: cluster.store, brokerEpoch: () => brokerEpoch, settings },
      });
      const { port } = await broker.start();
      cluster.nodes.push({ nodeId, broker, port, directory });
      cluster.brokers.set(nodeId, { nodeId, host: '127.0.0.1', port, brokerEpoch });
      cluster.store.alive.set(nodeId, brokerEpoch);
    }
    for (const follower of cluster.nodes) {
      const view = new Map<number, BrokerEndpoint>();
      for (const leader of cluster.nodes) {
        const endpoint = cluster.brokers.get(leader.nodeId)!;
        if (leader === follower) {
          view.set(leader.nodeId, endpoint);
          continue;
        }
        const link = new PausableLink(leader.port);
        await link.listen();
        cluster.links.set(`${follower.nodeId}>${leader.nodeId}`, link);
        view.set(leader.nodeId, { ...endpoint, port: link.port });
      }
      cluster.#views.set(follower.nodeId, view);
    }
    cluster.store.subscribe((state) => {
      for (const node of cluster.nodes) node.broker.replicas?.applyPartitionState(state, cluster.#views.get(node.nodeId));
    });
    return cluster;
  }

  node(nodeId: number): ClusterNode {
    return this.nodes.find((node) => node.nodeId === nodeId)!;
  }

  /** Creates the topic on every broker and sets the first state of each partition. */
  createTopic(name: string, replicas: number[], configs: Record<string, string> = {}, partitions = 1): void {
    for (const node of this.nodes) node.broker.topics.create(name, partitions, configs);
    for (let partition = 0; partition < partitions; partition += 1) {
      this.store.set({ topic: name, partition, replicas, isr: [...replicas], leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered' });
    }
  }

  async stop(): Promise<void> {
    for (const link of this.links.values()) link.resume();
    await Promise.all(this.nodes.map((node) => node.broker.stop().catch(() => {})));
    await Promise.all([...this.links.values()].map((link) => link.close()));
    for (const node of this.nodes) fs.rmSync(node.directory, { recursive: true, force: true });
  }
}
