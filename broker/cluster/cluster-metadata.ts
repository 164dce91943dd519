/**
 * One broker's link to the cluster metadata in etcd. It registers the broker on a lease (the
 * registration's create revision is the broker epoch), loads every broker, topic, partition
 * state and controller candidate at one revision and then watches from there, keeping a copy
 * in memory and reporting each change as an event, in etcd's order. It campaigns for
 * controller; when elected it runs the Controller.
 *
 * Nothing here is on the data path: the getters read the copy and never wait for etcd. When
 * etcd is away the last known state stays in force, calls that need etcd (alterPartition,
 * topic changes, elections, controlled shutdown) fail fast with METADATA_STORE, and the watch,
 * lease and campaign recover by themselves when it returns; a broker whose lease expired
 * meanwhile registers again and gets a new epoch.
 */
import { EventEmitter } from 'node:events';
import type { Campaign, Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import type { ClusterBroker, DescribeClusterResponse } from '../../proto/messages.js';
import { Controller, type ControllerSettings, type CreateTopicRequest, defaultControllerSettings, type ElectLeadersResult, type MetadataView, type PartitionRef } from './controller.js';
import { ControllerWrites, type PartitionEntry } from './controller-writes.js';
import { createEtcdClient } from './etcd-client.js';
import { storeError } from './store-error.js';
import { validateAlterPartition } from './isr-rules.js';
import { ClusterKeys } from './keys.js';
import type { AlterPartitionOutcome, BrokerEndpoint, IsrProposal, PartitionState, PartitionStateWriter } from './partition-state.js';
import { type BrokerRegistration, decodeBroker, type KafkaAddress, decodeControllerEpoch, decodePartitionState, decodeTopic, encodePartitionState, type TopicRecord } from './records.js';

export type { BrokerRegistration, KafkaAddress, TopicRecord } from './records.js';
export type { ControllerSettings, CreateTopicRequest, ElectLeadersResult, PartitionRef } from './controller.js';

export interface ClusterMetadataOptions {
  /** etcd members: `host:port`, `http://host:port` or `etcd://host:port`. */
  endpoints: readonly string[];
  clusterName: string;
  /** `kafka`: the advertised address of its Kafka listener, which Metadata on every broker's Kafka listener lists. */
  self: Omit<BrokerEndpoint, 'brokerEpoch'> & { kafka?: KafkaAddress };
  /** Lease TTL of the registration and of the controller candidacy (rounded up to whole seconds). */
  sessionTimeoutMs: number;
  logger: Logger;
  /** Deadline of each etcd call (default 1000 ms). */
  callTimeoutMs?: number;
  /** How long connect() waits for an earlier registration of this node id to expire (default 2 × session + 1 s). */
  registrationTimeoutMs?: number;
  controller?: Partial<ControllerSettings>;
}

export interface ClusterMetadataEvents {
  /** A partition state was created or changed (higher partitionEpoch, or a new topic's). */
  partitionState: [state: PartitionState];
  /** A partition's state was deleted (its topic was deleted). */
  partitionDeleted: [topic: string, partition: number];
  topicCreated: [topic: TopicRecord];
  topicChanged: [topic: TopicRecord];
  topicDeleted: [topic: TopicRecord];
  /** The live brokers changed (registered, gone, shutting down, new epoch). */
  brokers: [brokers: ReadonlyMap<number, BrokerRegistration>];
  /** The controller changed; −1 while there is none. */
  controller: [controllerId: number, controllerEpoch: number];
  /** This broker took up (true) or gave up (false) the controller role. */
  controllerRole: [active: boolean];
  /** This broker registered again (its lease had expired) and has a new epoch. */
  brokerEpoch: [brokerEpoch: number];
  /** The watch lost or regained etcd. */
  storeAvailable: [available: boolean];
}

interface AlterRead {
  state: PartitionState | undefined;
  modRevision: string;
  controllerEpoch: number;
  brokers: ReadonlyMap<number, BrokerRegistration>;
  brokerModRevisions: ReadonlyMap<number, string>;
}

interface Candidate {
  nodeId: number;
  createRevision: number;
}

const partitionKey = (topic: string, partition: number) => `${topic}/${partition}`;

export class ClusterMetadata extends EventEmitter<ClusterMetadataEvents> implements PartitionStateWriter {
  readonly #client: Etcd3;
  readonly #keys: ClusterKeys;
  readonly #options: ClusterMetadataOptions;
  readonly #settings: ControllerSettings;
  readonly #logger: Logger;
  readonly #ttlSeconds: number;

  readonly #brokers = new Map<number, BrokerRegistration>();
  /** Mod revision of each registration, for AlterPartition's compare from the copy. */
  readonly #brokerModRevisions = new Map<number, string>();
  /** Endpoints of brokers seen since start, so gone ones can still be described. */
  readonly #seen = new Map<number, Omit<BrokerEndpoint, 'brokerEpoch'>>();
  readonly #topics = new Map<string, TopicRecord>();
  /** Topic names by topic id: Kafka's Fetch v13+ and Metadata v10+ name topics by id on every request. */
  readonly #namesById = new Map<string, string>();
  readonly #partitions = new Map<string, PartitionEntry>();
  readonly #candidates = new Map<string, Candidate>();
  /** What the controller reads: this copy. */
  readonly #view: MetadataView = {
    brokers: this.#brokers,
    topic: (name) => this.#topics.get(name),
    partition: (topic, partition) => this.#partitions.get(partitionKey(topic, partition)),
    partitionEntries: () => [...this.#partitions.values()],
  };
  #controllerId = -1;
  #controllerEpoch = -1;
  #revision = 0;
  #storeAvailable = true;

  #lease: Lease | undefined;
  #brokerEpoch = -1;
  #shuttingDown = false;
  #watcher: Watcher | undefined;
  #watchGeneration = 0;
  #campaign: Campaign | undefined;
  #campaignKey: string | undefined;
  #campaignPending = false;
  #candidacyReached: (() => void) | undefined;
  #reregistering = false;
  #controller: Controller | undefined;
  #timers = new Set<NodeJS.Timeout>();
  readonly #quiet = new Set<string>();
  #closed = false;

  private constructor(options: ClusterMetadataOptions) {
    super();
    this.#options = options;
    this.#keys = new ClusterKeys(options.clusterName);
    this.#settings = { ...defaultControllerSettings, ...options.controller };
    this.#logger = options.logger.child({ component: 'cluster-metadata', nodeId: options.self.nodeId });
    this.#ttlSeconds = Math.max(1, Math.ceil(options.sessionTimeoutMs / 1000));
    this.#client = createEtcdClient(options.endpoints, options.callTimeoutMs ?? 1_000);
  }

  /** Loads the metadata, registers this broker and starts watching and campaigning; fails with METADATA_STORE when etcd does not answer. */
  static async connect(options: ClusterMetadataOptions): Promise<ClusterMetadata> {
    const metadata = new ClusterMetadata(options);
    try {
      await metadata.#load();
      await metadata.#registerWithin(options.registrationTimeoutMs ?? 2 * options.sessionTimeoutMs + 1_000);
      metadata.#campaignForController();
      // Resolve once this broker is a candidate, so brokers that connect one after another
      // stand for controller in that order (a bound, not a failure: the campaign goes on).
      await metadata.#candidacyWithin(options.callTimeoutMs ?? 1_000);
    } catch (error) {
      await metadata.close();
      throw storeError('connecting to the cluster metadata', error);
    }
    return metadata;
  }

  // ---- the copy, read without waiting ----

  get nodeId(): number {
    return this.#options.self.nodeId;
  }

  /** The create revision of this broker's registration; −1 before it registered. */
  get brokerEpoch(): number {
    return this.#brokerEpoch;
  }

  get brokers(): ReadonlyMap<number, BrokerRegistration> {
    return this.#brokers;
  }

  get controllerId(): number {
    return this.#controllerId;
  }

  get controllerEpoch(): number {
    return this.#controllerEpoch;
  }

  /** True while this broker runs the controller (its writes are still fenced by etcd). */
  get isController(): boolean {
    return this.#controller !== undefined;
  }

  get storeAvailable(): boolean {
    return this.#storeAvailable;
  }

  /** The etcd client, for keys of other parts of the broker (producer id blocks) under `keys`. */
  get etcd(): Etcd3 {
    return this.#client;
  }

  get keys(): ClusterKeys {
    return this.#keys;
  }

  get clusterName(): string {
    return this.#options.clusterName;
  }

  topics(): TopicRecord[] {
    return [...this.#topics.values()];
  }

  topicNameById(topicId: string): string | undefined {
    return this.#namesById.get(topicId);
  }

  topic(name: string): TopicRecord | undefined {
    return this.#topics.get(name);
  }

  partitionState(topic: string, partition: number): PartitionState | undefined {
    return this.#partitions.get(partitionKey(topic, partition))?.state;
  }

  partitionStates(): PartitionState[] {
    return [...this.#partitions.values()].map((entry) => entry.state);
  }

  /** BrokerEndpoints of the live brokers, as ReplicaManager.updateBrokers wants them. */
  brokerEndpoints(): Map<number, BrokerEndpoint> {
    const endpoints = new Map<number, BrokerEndpoint>();
    for (const [id, { shuttingDown: _, ...endpoint }] of this.#brokers) endpoints.set(id, endpoint);
    return endpoints;
  }

  /** DescribeCluster: live brokers and those known from replica sets or seen before but gone. */
  describeCluster(): DescribeClusterResponse {
    const leaderCounts = new Map<number, number>();
    const ids = new Set<number>(this.#brokers.keys());
    for (const { state } of this.#partitions.values()) {
      if (state.leader !== -1) leaderCounts.set(state.leader, (leaderCounts.get(state.leader) ?? 0) + 1);
      for (const id of state.replicas) ids.add(id);
    }
    const brokers: ClusterBroker[] = [...ids].sort((a, b) => a - b).map((nodeId) => {
      const live = this.#brokers.get(nodeId);
      const known = live ?? this.#seen.get(nodeId);
      return {
        nodeId, host: known?.host ?? '', port: known?.port ?? 0, rack: known?.rack ?? '', alive: live !== undefined,
        brokerEpoch: live?.brokerEpoch ?? -1, leaderCount: leaderCounts.get(nodeId) ?? 0, shuttingDown: live?.shuttingDown ?? false,
      };
    });
    return { clusterId: this.#options.clusterName, controllerId: this.#controllerId, brokers };
  }

  // ---- loading and watching ----

  async #load(): Promise<void> {
    const generation = ++this.#watchGeneration;
    const snapshot = await this.#client.getAll().prefix(this.#keys.root).exec();
    if (generation !== this.#watchGeneration || this.#closed) return;
    this.#applySnapshot(snapshot.kvs, Number(snapshot.header.revision));
    const watcher = await this.#client.watch().prefix(this.#keys.root).startRevision(String(this.#revision + 1)).create();
    if (generation !== this.#watchGeneration || this.#closed) {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    this.#watcher = watcher;
    watcher.on('data', (response) => {
      for (const event of response.events) {
        if (event.type === 'Put') this.#applyPut(event.kv);
        else this.#applyDelete(event.kv);
      }
      if (response.events.length > 0) {
        this.#revision = Math.max(this.#revision, Number(response.header.revision));
        this.#afterChanges();
      }
    });
    watcher.on('disconnected', () => this.#setStoreAvailable(false));
    watcher.on('connected', () => this.#setStoreAvailable(true));
    watcher.on('error', (error) => {
      // Unrecoverable for this watch (e.g. its revision was compacted): load everything again.
      this.#logger.warn({ err: error }, 'metadata watch failed; reloading');
      void watcher.cancel().catch(() => undefined);
      this.#reloadSoon();
    });
  }

  #reloadSoon(): void {
    this.#later(this.#settings.retryBackoffMs, async () => {
      try {
        await this.#load();
        this.#quiet.delete('reload');
        this.#setStoreAvailable(true);
      } catch (error) {
        this.#setStoreAvailable(false);
        this.#warnOnce('reload', error, 'reloading the cluster metadata failed; retrying');
        this.#reloadSoon();
      }
    });
  }

  #setStoreAvailable(available: boolean): void {
    if (available === this.#storeAvailable) return;
    this.#storeAvailable = available;
    this.emit('storeAvailable', available);
  }

  /** Applies a full read as the changes it makes to the copy, so listeners see only differences. */
  #applySnapshot(kvs: IKeyValue[], revision: number): void {
    const present = new Set(kvs.map((kv) => kv.key.toString()));
    for (const kv of kvs) this.#applyPut(kv);
    const gone = (key: string) => !present.has(key);
    for (const state of this.partitionStates()) {
      const key = this.#keys.partitionState(state.topic, state.partition);
      if (gone(key)) this.#applyDelete({ key: Buffer.from(key) } as IKeyValue);
    }
    for (const name of [...this.#topics.keys()]) if (gone(this.#keys.topic(name))) this.#applyDelete({ key: Buffer.from(this.#keys.topic(name)) } as IKeyValue);
    for (const id of [...this.#brokers.keys()]) if (gone(this.#keys.broker(id))) this.#applyDelete({ key: Buffer.from(this.#keys.broker(id)) } as IKeyValue);
    for (const key of [...this.#candidates.keys()]) if (gone(key)) this.#applyDelete({ key: Buffer.from(key) } as IKeyValue);
    this.#revision = revision;
    this.#afterChanges();
  }

  #applyPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    const parsed = this.#keys.parse(key);
    const text = kv.value.toString();
    if (parsed === null) return;
    switch (parsed.kind) {
      case 'broker': {
        const stored = decodeBroker(text);
        if (stored === null) {
          this.#malformed(key);
          return;
        }
        const registration: BrokerRegistration = { nodeId: parsed.nodeId, host: stored.host, port: stored.port, brokerEpoch: Number(kv.create_revision), shuttingDown: stored.shuttingDown };
        if (stored.rack !== undefined) registration.rack = stored.rack;
        if (stored.kafka !== undefined) registration.kafka = stored.kafka;
        this.#brokerModRevisions.set(parsed.nodeId, kv.mod_revision);
        const before = this.#brokers.get(parsed.nodeId);
        if (before && JSON.stringify(before) === JSON.stringify(registration)) return;
        this.#brokers.set(parsed.nodeId, registration);
        const { brokerEpoch: _, shuttingDown: __, ...endpoint } = registration;
        this.#seen.set(parsed.nodeId, endpoint);
        this.emit('brokers', this.#brokers);
        return;
      }
      case 'controller': {
        const nodeId = Number(text);
        if (!Number.isInteger(nodeId)) {
          this.#malformed(key);
          return;
        }
        this.#candidates.set(key, { nodeId, createRevision: Number(kv.create_revision) });
        this.#candidatesChanged();
        this.#checkCandidacy();
        return;
      }
      case 'topic': {
        const topic = decodeTopic(parsed.name, text);
        if (topic === null) {
          this.#malformed(key);
          return;
        }
        const before = this.#topics.get(parsed.name);
        const existed = before !== undefined;
        if (before !== undefined) this.#namesById.delete(before.topicId);
        this.#topics.set(parsed.name, topic);
        this.#namesById.set(topic.topicId, topic.name);
        this.emit(existed ? 'topicChanged' : 'topicCreated', topic);
        return;
      }
      case 'partition': {
        const state = decodePartitionState(parsed.topic, parsed.partition, text);
        if (state === null) {
          this.#malformed(key);
          return;
        }
        this.#setPartition(state, kv.mod_revision, decodeControllerEpoch(text));
        return;
      }
    }
  }

  /** Only moves forward: AlterPartition puts its own commit in before the watch brings it. */
  #setPartition(state: PartitionState, modRevision: string, controllerEpoch: number): void {
    const id = partitionKey(state.topic, state.partition);
    const before = this.#partitions.get(id);
    if (before !== undefined && Number(before.modRevision) >= Number(modRevision)) return;
    this.#partitions.set(id, { state, modRevision, controllerEpoch });
    this.emit('partitionState', state);
  }

  #applyDelete(kv: IKeyValue): void {
    const key = kv.key.toString();
    const parsed = this.#keys.parse(key);
    if (parsed === null) return;
    switch (parsed.kind) {
      case 'broker':
        this.#brokerModRevisions.delete(parsed.nodeId);
        if (this.#brokers.delete(parsed.nodeId)) this.emit('brokers', this.#brokers);
        // Our current registration (not an older one we replaced) is gone: register again now,
        // without waiting for the lease keepalive to report it.
        if (parsed.nodeId === this.nodeId && Number(kv.mod_revision) > this.#brokerEpoch && this.#lease !== undefined) {
          this.#registrationLost(this.#lease, `registration deleted at revision ${kv.mod_revision}`);
        }
        return;
      case 'controller':
        this.#candidates.delete(key);
        this.#candidatesChanged();
        if (key === this.#campaignKey && !this.#closed) {
          this.#logger.warn({ key }, 'this broker\'s controller candidacy vanished from etcd; campaigning again');
          this.#restartCampaign();
        }
        return;
      case 'topic': {
        const topic = this.#topics.get(parsed.name);
        if (topic === undefined) return;
        this.#topics.delete(parsed.name);
        this.#namesById.delete(topic.topicId);
        for (const state of this.partitionStates().filter((s) => s.topic === parsed.name)) {
          this.#partitions.delete(partitionKey(state.topic, state.partition));
          this.emit('partitionDeleted', state.topic, state.partition);
        }
        this.emit('topicDeleted', topic);
        return;
      }
      case 'partition':
        if (this.#partitions.delete(partitionKey(parsed.topic, parsed.partition))) this.emit('partitionDeleted', parsed.topic, parsed.partition);
        return;
    }
  }

  #afterChanges(): void {
    this.#controller?.changed();
  }

  /** The oldest candidate is the controller; its key's create revision the controller epoch. */
  #candidatesChanged(): void {
    let winner: Candidate | undefined;
    for (const candidate of this.#candidates.values()) if (winner === undefined || candidate.createRevision < winner.createRevision) winner = candidate;
    const id = winner?.nodeId ?? -1;
    const epoch = winner?.createRevision ?? -1;
    if (id !== this.#controllerId || epoch !== this.#controllerEpoch) {
      this.#controllerId = id;
      this.#controllerEpoch = epoch;
      this.emit('controller', id, epoch);
    }
  }

  #malformed(key: string): void {
    this.#logger.warn({ key }, 'ignoring a malformed value in the cluster metadata');
  }

  // ---- registration ----

  #registrationValue(): string {
    const { host, port, rack, kafka } = this.#options.self;
    return JSON.stringify({ host, port, rack, kafka, shuttingDown: this.#shuttingDown });
  }

  async #registerWithin(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.#register();
        return;
      } catch (error) {
        if (!(SluiceError.is(error) && error.code === 'SLUICE_ERR_CONFIG') || Date.now() > deadline || this.#closed) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.#settings.retryBackoffMs));
      }
    }
  }

  /**
   * Registers on a new lease. When the old registration is still in etcd (etcd renews leases
   * when it restarts, so a long outage can make the client give up a lease etcd still holds),
   * the key moves to the new lease and keeps its create revision: the broker was never seen
   * gone, so it keeps its epoch and nothing churns. Otherwise a new key, a new epoch.
   */
  async #register(): Promise<void> {
    const key = this.#keys.broker(this.nodeId);
    const old = this.#lease;
    const lease = this.#client.lease(this.#ttlSeconds);
    lease.on('lost', (error) => this.#registrationLost(lease, error));
    try {
      const leaseId = await lease.grant();
      const put = this.#client.put(key).value(this.#registrationValue()).lease(leaseId);
      if (this.#brokerEpoch !== -1) {
        const moved = await this.#client.if(key, 'Create', '==', String(this.#brokerEpoch)).then(put).commit();
        if (moved.succeeded) {
          this.#lease = lease;
          void old?.revoke().catch(() => undefined);
          this.#logger.info({ brokerEpoch: this.#brokerEpoch }, 'broker registration kept on a new lease');
          return;
        }
      }
      const result = await this.#client.if(key, 'Create', '==', 0)
        .then(this.#client.put(key).value(this.#registrationValue()).lease(leaseId))
        .commit();
      if (!result.succeeded) {
        throw new SluiceError('SLUICE_ERR_CONFIG', `another broker with node id ${this.nodeId} is registered in cluster ${this.clusterName} (or this broker's previous session has not expired yet); give every broker its own --node-id`);
      }
      this.#lease = lease;
      void old?.revoke().catch(() => undefined);
      const first = this.#brokerEpoch === -1;
      this.#brokerEpoch = Number(result.header.revision);
      this.#logger.info({ brokerEpoch: this.#brokerEpoch }, first ? 'broker registered' : 'broker registered again with a new epoch');
      if (!first) this.emit('brokerEpoch', this.#brokerEpoch);
    } catch (error) {
      lease.removeAllListeners('lost');
      await lease.revoke().catch(() => undefined);
      throw error;
    }
  }

  #registrationLost(lease: Lease, error: unknown): void {
    if (this.#closed || lease !== this.#lease || this.#reregistering) return;
    this.#reregistering = true;
    this.#logger.warn({ err: error, brokerEpoch: this.#brokerEpoch }, 'broker registration lost (lease expired); registering again');
    const retry = (delayMs: number) => this.#later(delayMs, async () => {
      try {
        await this.#register();
        this.#reregistering = false;
        this.#quiet.delete('register');
      } catch (failure) {
        this.#warnOnce('register', failure, 'registering again failed; retrying');
        retry(this.#settings.retryBackoffMs);
      }
    });
    retry(0);
  }

  // ---- controller ----

  #campaignForController(): void {
    if (this.#closed) return;
    const campaign = this.#client.namespace(this.#keys.root).election(this.#keys.electionName, this.#ttlSeconds).campaign(String(this.nodeId));
    this.#campaign = campaign;
    this.#campaignKey = undefined;
    void campaign.getCampaignKey().then((key) => {
      if (this.#campaign !== campaign) return;
      this.#campaignKey = key;
      this.#checkCandidacy();
    }, () => undefined);
    campaign.on('elected', () => {
      if (this.#campaign === campaign && !this.#closed) void this.#becomeController(campaign);
      else void campaign.resign().catch(() => undefined);
    });
    campaign.on('error', (error) => {
      if (this.#campaign !== campaign || this.#closed) return;
      this.#warnOnce('campaign', error, 'controller campaign failed; campaigning again');
      this.#restartCampaign();
    });
  }

  #checkCandidacy(): void {
    if (this.#campaignKey !== undefined && this.#candidates.has(this.#campaignKey)) this.#candidacyReached?.();
  }

  async #candidacyWithin(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#candidacyReached?.(), timeoutMs);
      this.#candidacyReached = () => {
        clearTimeout(timer);
        this.#candidacyReached = undefined;
        resolve();
      };
      this.#checkCandidacy();
    });
  }

  async #becomeController(campaign: Campaign): Promise<void> {
    try {
      const key = await campaign.getCampaignKey();
      const kv = (await this.#client.get(key).exec()).kvs[0];
      if (this.#campaign !== campaign || this.#closed) return;
      if (kv === undefined) {
        this.#restartCampaign();
        return;
      }
      const controller = new Controller(new ControllerWrites(this.#client, this.#keys, { key, revision: kv.create_revision }),
        this.#view, this.#settings, this.#logger, () => {
          if (this.#controller === controller) this.#restartCampaign();
        });
      this.#controller = controller;
      this.#quiet.delete('campaign');
      this.#logger.info({ controllerEpoch: controller.epoch }, 'this broker is the controller');
      controller.start();
      this.emit('controllerRole', true);
    } catch (error) {
      if (this.#campaign !== campaign || this.#closed) return;
      this.#warnOnce('campaign', error, 'could not take up the controller role; campaigning again');
      this.#restartCampaign();
    }
  }

  #restartCampaign(): void {
    if (this.#controller !== undefined) {
      this.#controller.stop();
      this.#controller = undefined;
      this.emit('controllerRole', false);
    }
    const old = this.#campaign;
    this.#campaign = undefined;
    this.#campaignKey = undefined;
    if (old) void old.resign().catch(() => undefined);
    // Several signals (lease lost, key deleted, write fenced) may ask at once: start one campaign only.
    if (this.#campaignPending) return;
    this.#campaignPending = true;
    this.#later(this.#settings.retryBackoffMs, async () => {
      this.#campaignPending = false;
      if (this.#campaign === undefined) this.#campaignForController();
    });
  }

  #requireController(what: string): Controller {
    if (this.#controller === undefined) {
      // The candidacy can outlive the role for a moment: after an etcd outage this broker campaigns
      // again while its old key is still the oldest, so it is named controller without running one.
      const where = this.#controllerId === this.nodeId ? 'this broker is taking up the controller role again; retry shortly'
        : `this is broker ${this.nodeId}`;
      throw new SluiceError('SLUICE_ERR_NOT_CONTROLLER', `${what} must go to the controller (broker ${this.#controllerId}); ${where}`);
    }
    return this.#controller;
  }

  async createTopic(request: CreateTopicRequest): Promise<TopicRecord> {
    return await this.#requireController('CreateTopics').createTopic(request);
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#requireController('DeleteTopics').deleteTopic(name);
  }

  async createPartitions(name: string, count: number): Promise<void> {
    await this.#requireController('CreatePartitions').createPartitions(name, count);
  }

  async alterTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    await this.#requireController('IncrementalAlterConfigs').alterTopicConfigs(name, configs);
  }

  /** ElectLeaders: type 0 preferred, 1 unclean; partitions absent = all. */
  async electLeaders(type: number, partitions?: PartitionRef[]): Promise<ElectLeadersResult[]> {
    return await this.#requireController('ElectLeaders').electLeaders(type, partitions);
  }

  // ---- the leader's writes ----

  /**
   * Kafka's AlterPartition as one compare-and-swap (see isr-rules.ts for the checks). The first
   * try validates against the watched copy, so the usual case costs one etcd round trip; a
   * refusal or a lost compare is decided again on a fresh read, so the answer never rests on
   * a copy that lags behind.
   */
  async alterPartition(proposal: IsrProposal): Promise<AlterPartitionOutcome> {
    const key = this.#keys.partitionState(proposal.topic, proposal.partition);
    for (let attempt = 0; attempt < 4; attempt += 1) {
      let read: AlterRead;
      try {
        read = attempt === 0 ? this.#cachedRead(proposal) : await this.#readForAlter(key, proposal);
      } catch (error) {
        const failure = storeError('AlterPartition', error);
        return { kind: 'unavailable', message: failure.message, code: failure.code };
      }
      const decision = validateAlterPartition(read.state, proposal, read.brokers);
      if (!decision.ok && attempt === 0) continue;
      if (!decision.ok) {
        if (decision.code === 'SLUICE_ERR_INVALID_REQUEST' || decision.code === 'SLUICE_ERR_INELIGIBLE_REPLICA') {
          return { kind: 'rejected', code: decision.code, message: decision.message };
        }
        return { kind: 'stale', code: decision.code, message: decision.message };
      }
      // The registrations' mod revisions cover both the epoch (a new key) and the shutting-down flag.
      let txn = this.#client.if(key, 'Mod', '==', read.modRevision);
      for (const id of decision.state.isr) txn = txn.and(this.#keys.broker(id), 'Mod', '==', read.brokerModRevisions.get(id)!);
      try {
        const result = await txn.then(this.#client.put(key).value(encodePartitionState(decision.state, read.controllerEpoch))).commit();
        if (result.succeeded) {
          this.#setPartition(decision.state, result.header.revision, read.controllerEpoch);
          return { kind: 'committed', state: decision.state };
        }
      } catch (error) {
        const failure = storeError('AlterPartition', error);
        return { kind: 'unavailable', message: failure.message, code: failure.code };
      }
    }
    return { kind: 'stale', code: 'SLUICE_ERR_INVALID_UPDATE_VERSION', message: `${proposal.topic}-${proposal.partition} kept changing during AlterPartition` };
  }

  #cachedRead(proposal: IsrProposal): AlterRead {
    const entry = this.#partitions.get(partitionKey(proposal.topic, proposal.partition));
    return {
      state: entry?.state, modRevision: entry?.modRevision ?? '0', controllerEpoch: entry?.controllerEpoch ?? -1,
      brokers: this.#brokers, brokerModRevisions: this.#brokerModRevisions,
    };
  }

  /** The partition state and every registration, fresh from etcd (linearizable reads). */
  async #readForAlter(key: string, proposal: IsrProposal): Promise<AlterRead> {
    const [partition, registrations] = await Promise.all([
      this.#client.get(key).exec(),
      this.#client.getAll().prefix(this.#keys.brokers).exec(),
    ]);
    const kv = partition.kvs[0];
    const state = kv ? decodePartitionState(proposal.topic, proposal.partition, kv.value.toString()) ?? undefined : undefined;
    const controllerEpoch = kv ? decodeControllerEpoch(kv.value.toString()) : -1;
    const brokers = new Map<number, BrokerRegistration>();
    const brokerModRevisions = new Map<number, string>();
    for (const registration of registrations.kvs) {
      const parsed = this.#keys.parse(registration.key.toString());
      const stored = decodeBroker(registration.value.toString());
      if (parsed?.kind !== 'broker' || stored === null) continue;
      brokers.set(parsed.nodeId, { nodeId: parsed.nodeId, host: stored.host, port: stored.port, brokerEpoch: Number(registration.create_revision), shuttingDown: stored.shuttingDown });
      brokerModRevisions.set(parsed.nodeId, registration.mod_revision);
    }
    return { state, modRevision: kv?.mod_revision ?? '0', controllerEpoch, brokers, brokerModRevisions };
  }

  // ---- shutdown ----

  /**
   * Controlled shutdown: marks this broker as shutting down, so the controller moves its
   * leaderships to other in-sync replicas and takes it out of every ISR; resolves true once it
   * leads nothing, false if that did not happen within `timeoutMs`.
   */
  async controlledShutdown(timeoutMs = 30_000): Promise<boolean> {
    this.#shuttingDown = true;
    const key = this.#keys.broker(this.nodeId);
    const lease = this.#lease;
    if (lease === undefined) throw new SluiceError('SLUICE_ERR_METADATA_STORE', 'this broker is not registered; nothing to hand over');
    try {
      const result = await this.#client.if(key, 'Create', '==', String(this.#brokerEpoch))
        .then(this.#client.put(key).value(this.#registrationValue()).lease(await lease.grant()))
        .commit();
      if (!result.succeeded) throw new SluiceError('SLUICE_ERR_STALE_BROKER_EPOCH', `broker ${this.nodeId}'s registration (epoch ${this.#brokerEpoch}) is gone`);
    } catch (error) {
      throw storeError('controlled shutdown', error);
    }
    const leadsNothing = () => !this.partitionStates().some((state) => state.leader === this.nodeId);
    if (leadsNothing()) return true;
    return await new Promise<boolean>((resolve) => {
      const check = () => {
        if (!leadsNothing()) return;
        finish(true);
      };
      const finish = (done: boolean) => {
        clearTimeout(timer);
        this.off('partitionState', check);
        this.off('partitionDeleted', check);
        resolve(done);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.on('partitionState', check);
      this.on('partitionDeleted', check);
    });
  }

  /** Retries while etcd is away would log every 100 ms: say it once, then at debug level until it works again. */
  #warnOnce(kind: string, error: unknown, message: string): void {
    if (this.#quiet.has(kind)) {
      this.#logger.debug({ err: error }, message);
      return;
    }
    this.#quiet.add(kind);
    this.#logger.warn({ err: error }, message);
  }

  #later(ms: number, run: () => Promise<void>): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) void run();
    }, ms);
    this.#timers.add(timer);
  }

  /** Resigns as controller, removes the registration (its lease) and stops watching. Bounded by the call deadline. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#controller?.stop();
    this.#controller = undefined;
    this.#watchGeneration += 1;
    await Promise.all([
      this.#campaign?.resign().catch(() => undefined),
      this.#lease?.revoke().catch(() => undefined),
      this.#watcher?.cancel().catch(() => undefined),
    ]);
    this.#client.close();
    this.removeAllListeners();
  }
}
