/**
 * The broker's topics and their partition logs: create, delete, look up, and the append
 * notifications that wake long-polling fetches. Partition `p` of topic `t` lives in
 * `<data>/t-p/`.
 *
 * Creating a topic opens every partition log first and saves the topic's record last, so a
 * create that fails half-way (out of descriptors or memory) closes and removes what it opened
 * and leaves no record behind that every later start would trip over. A request's create
 * (`createAsync`) does its file work in slices of a few milliseconds, so a topic of ten
 * thousand partitions does not hold up anyone's produce or fetch, and it appears only once
 * every partition is ready. A broker-wide partition budget refuses, up front, a create that
 * would take the broker past what its mappings allow. Deleting a topic first
 * removes its record (so a crash mid-delete never brings it back), then renames each partition
 * directory to `…-delete`, closes its log (descriptors and disk blocks freed at once) and
 * removes it; a start finishes any such removal left behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { Log, type LogOptions } from '../storage/log.js';
import { type LogConfig, logConfigKeys, parseLogConfigEntries, resolveLogConfig } from '../storage/log-config.js';
import { cleanShutdownFile, eachOnThreadPool, syncDirectoriesAsync, writeTextCheckpoint } from '../storage/checkpoint.js';
import { type LoadReport, prepareEmptyLog } from '../storage/log-loader.js';
import { storageError, storageStep } from '../storage/storage-error.js';
import { limits } from '../limits.js';
import { CleanStop } from '../storage/clean-stop.js';
import { Partition } from './partition.js';
import { checkNotInternal, checkTopicName } from './topic-name.js';
import { type TopicRecord, TopicStore } from './topic-store.js';
import { Turns } from './turns.js';

export { type AppendListener, Partition } from './partition.js';

/**
 * Settings a running log cannot take from a changed config: the active segment was mapped at
 * its segment.bytes, and the flush policy's timers were set up when the log opened.
 */
const fixedWhileOpen = ['segmentBytes', 'flushMessages', 'flushMs'] as const;

/**
 * Puts a changed record in force: logs and segments read their settings from their config
 * object on every use (retention, compaction, timestamps, max.message.bytes, segment.ms and
 * index sizes of later segments), so the new values are copied into it; a leader's
 * min.insync.replicas is kept apart and set too.
 */
function applyConfig(topic: Topic, record: TopicRecord, config: LogConfig): void {
  topic.updateRecord(record);
  Object.assign(topic.config, config);
  for (const partition of topic.partitions) {
    // A log not opened yet takes the topic's config when it opens.
    if (partition.openedLog !== undefined) Object.assign(partition.openedLog.config, config);
    if (partition.leaderState !== undefined) partition.leaderState.minInsyncReplicas = config.minInsyncReplicas;
  }
}

/** Refuses a config change a running log cannot apply (it would need a restart). */
export function checkLiveChange(current: LogConfig, next: LogConfig): void {
  for (const field of fixedWhileOpen) {
    if (current[field] !== next[field]) {
      const key = Object.entries(logConfigKeys).find(([, value]) => value === field)?.[0] ?? field;
      throw new SluiceError('SLUICE_ERR_CONFIG', `${key} cannot change on a live topic (from ${current[field]} to ${next[field]}); set it when creating the topic`);
    }
  }
}

/**
 * A topic as this broker holds it. On a single broker every partition is here; in a cluster
 * only those this broker is a replica of, so `partitions` lists what is local (in index order)
 * and `partitionAt` looks one up by its index.
 */
export class Topic {
  readonly config: LogConfig;
  #record: TopicRecord;
  #partitions: Partition[];
  readonly #byIndex: Array<Partition | undefined>;

  constructor(record: TopicRecord, config: LogConfig, partitions: Partition[]) {
    this.#record = record;
    this.config = config;
    // One pass: adding ten thousand partitions one by one rebuilt the list each time (seconds of one turn).
    // A topic with every partition here, in order, is taken as it is (no holey array grown one slot at a time).
    if (partitions.every((partition, position) => partition.index === position)) {
      this.#byIndex = partitions.slice();
      this.#partitions = partitions.slice();
      return;
    }
    this.#byIndex = [];
    for (const partition of partitions) this.#byIndex[partition.index] = partition;
    this.#partitions = this.#byIndex.filter((candidate): candidate is Partition => candidate !== undefined);
  }

  get record(): TopicRecord {
    return this.#record;
  }

  /** The topic's record changed (more partitions, other configs); the caller applies what follows from it. */
  updateRecord(record: TopicRecord): void {
    this.#record = record;
  }

  get partitions(): readonly Partition[] {
    return this.#partitions;
  }

  partitionAt(index: number): Partition | undefined {
    return this.#byIndex[index];
  }

  add(partition: Partition): void {
    this.#byIndex[partition.index] = partition;
    this.#partitions = this.#byIndex.filter((candidate): candidate is Partition => candidate !== undefined);
  }

  remove(index: number): Partition | undefined {
    const partition = this.#byIndex[index];
    if (partition === undefined) return undefined;
    this.#byIndex[index] = undefined;
    this.#partitions = this.#partitions.filter((candidate) => candidate !== partition);
    return partition;
  }
}

/** What `open` did: partitions known, opened now (and how many of those recovered), left for their first use, left unclean for `recoverInBackground`. */
export interface OpenSummary {
  partitions: number;
  opened: number;
  recovered: number;
  deferred: number;
  toRecover: Partition[];
  creationsUndone: string[];
  ms: number;
}

export class TopicManager {
  readonly dataDirectory: string;
  /** Undefined in a cluster, where the topics live in etcd and only the logs are local. */
  readonly #store: TopicStore | undefined;
  readonly #defaults: Partial<LogConfig>;
  readonly #topics = new Map<string, Topic>();
  /** Topic names by topic id, for Kafka requests that name topics by id. */
  readonly #namesById = new Map<string, string>();
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #logOptions: Pick<LogOptions, 'hooks' | 'deletedSegmentReadGraceMs'>;
  /** Runs on every partition opened (a replica manager takes them out of the self-led default). */
  #partitionOpened: ((partition: Partition) => void) | undefined;
  /** Topics being created (name → partitions): not visible yet, but counted against the budget. */
  readonly #creating = new Map<string, number>();
  /** Topics whose partitions are still being removed: a create of the same name waits for it. */
  readonly #deleting = new Map<string, Promise<void>>();
  /**
   * How many partitions this broker may hold, and what sets that (for the error that refuses a
   * create beyond it). The broker sets it at start; unbounded until then.
   */
  partitionBudget: { max: number; source: string } = { max: Infinity, source: '' };
  /** Told what opening each partition had to repair, when a lazy start opens it on first use (the broker logs it). */
  onLazyOpen: ((topic: string, partition: number, report: LoadReport) => void) | undefined;

  constructor(
    dataDirectory: string, defaults: Partial<LogConfig>, onBackgroundError: (error: unknown) => void,
    logOptions: Pick<LogOptions, 'hooks' | 'deletedSegmentReadGraceMs'> = {}, clustered = false,
  ) {
    this.dataDirectory = dataDirectory;
    this.#defaults = defaults;
    this.#onBackgroundError = onBackgroundError;
    this.#logOptions = logOptions;
    fs.mkdirSync(dataDirectory, { recursive: true });
    this.#store = clustered ? undefined : new TopicStore(dataDirectory);
  }

  get #localStore(): TopicStore {
    if (this.#store === undefined) throw new SluiceError('SLUICE_ERR_NOT_CONTROLLER', 'in a cluster, topics are created and deleted by the controller');
    return this.#store;
  }

  /**
   * Opens every known topic's logs (recovering them after a crash). If one cannot be opened
   * the logs already open are closed again and the error says which partition failed.
   *
   * With `lazy` (the broker's start) no log is opened here: the topics and their partitions
   * are known from the records alone, and each log opens on its partition's first use, so a
   * start with ten thousand partitions does not touch their files. A partition whose last stop
   * was clean needs nothing more; one that was not (a kill -9) is listed in `toRecover` for
   * `recoverInBackground`, while the others are served.
   */
  open(options: { lazy?: boolean } = {}): OpenSummary {
    const started = performance.now();
    for (const name of fs.readdirSync(this.dataDirectory)) {
      if (name.endsWith('-delete')) fs.rmSync(path.join(this.dataDirectory, name), { recursive: true, force: true });
    }
    const summary: OpenSummary = { partitions: 0, opened: 0, deferred: 0, recovered: 0, toRecover: [], creationsUndone: this.#finishInterruptedCreations(), ms: 0 };
    try {
      for (const stored of this.#store?.load() ?? []) {
        const record = this.#withTopicId(stored);
        const config = this.#configOf(record);
        summary.partitions += record.partitions;
        if (options.lazy === true) {
          const topic = this.#register(record, config, Array.from({ length: record.partitions }, (_, index) => () => this.#openLazily(topic, index)));
          for (const partition of topic.partitions) {
            if (fs.existsSync(path.join(this.#partitionDirectory(record.name, partition.index), cleanShutdownFile))) summary.deferred += 1;
            else summary.toRecover.push(partition);
          }
          continue;
        }
        const logs = this.#openLogs(record, config);
        summary.opened += logs.length;
        for (const log of logs) if (!log.loadReport.clean) summary.recovered += 1;
        this.#register(record, config, logs);
      }
    } catch (error) {
      this.close();
      throw error;
    }
    summary.ms = Math.round(performance.now() - started);
    return summary;
  }

  /**
   * A partition's first use after a lazy start. A log the crash left unclean has its directory
   * synced on the thread pool right after (not in this turn: a directory sync on a busy disk
   * took milliseconds each, a minute for ten thousand partitions); until then its entries are
   * as durable as the crash left them, which is what they were anyway.
   */
  #openLazily(topic: Topic, index: number): Log {
    const directory = this.#partitionDirectory(topic.record.name, index);
    const log = storageStep(`cannot open partition ${index} of topic ${topic.record.name}`,
      () => Log.open(directory, { config: topic.config, onBackgroundError: this.#onBackgroundError, ...this.#logOptions, directorySyncedByCaller: true }));
    if (!log.loadReport.clean) syncDirectoriesAsync([directory]).catch(this.#onBackgroundError);
    this.onLazyOpen?.(topic.record.name, index, log.loadReport);
    return log;
  }

  /**
   * Opens, in slices of a few milliseconds, the partitions a crash left unclean (recovering
   * the segments past each one's recovery point), while the broker serves the rest. A request
   * for one of them before its turn opens it at once. Returns how many were recovered and how
   * many could not be (each reported through the background-error callback; its next use
   * tries again).
   */
  async recoverInBackground(partitions: readonly Partition[]): Promise<{ recovered: number; failed: number; ms: number }> {
    const started = performance.now();
    const turns = new Turns();
    let recovered = 0;
    let failed = 0;
    for (const partition of partitions) {
      if (partition.closed || partition.openedLog !== undefined) continue;
      try {
        void partition.log;
        recovered += 1;
      } catch (error) {
        failed += 1;
        this.#onBackgroundError(error);
      }
      await turns.pause();
    }
    return { recovered, failed, ms: Math.round(performance.now() - started) };
  }

  /** Partitions whose logs are not open yet (a lazy start leaves them for their first use). */
  unopened(): Partition[] {
    const found: Partition[] = [];
    for (const topic of this.#topics.values()) for (const partition of topic.partitions) if (!partition.closed && partition.openedLog === undefined) found.push(partition);
    return found;
  }

  /**
   * A crash in the middle of a create left its note: with the record saved the topic is whole
   * (only the note was left); without, its directories go. Returns the topics removed.
   */
  #finishInterruptedCreations(): string[] {
    const store = this.#store;
    if (store === undefined) return [];
    const undone: string[] = [];
    for (const { name, partitions, saved } of store.unfinishedCreations()) {
      if (!saved) {
        for (let index = 0; index < partitions; index += 1) fs.rmSync(this.#partitionDirectory(name, index), { recursive: true, force: true });
        undone.push(name);
      }
      store.clearCreating(name);
    }
    return undone;
  }

  /**
   * A topic made before topics had ids gets one now, saved, so Kafka clients that name topics
   * by id (Metadata v10+, Fetch v13+) see the same id across restarts.
   */
  #withTopicId(record: TopicRecord): TopicRecord {
    if (record.topicId !== undefined) return record;
    const withId = { ...record, topicId: crypto.randomUUID() };
    this.#localStore.save(withId);
    return withId;
  }

  #configOf(record: TopicRecord): LogConfig {
    return this.resolveConfig(record.configs);
  }

  /** Opens every partition log of a topic, or none: on failure the opened ones are closed. */
  #openLogs(record: TopicRecord, config: LogConfig, fresh = false): Log[] {
    const logs: Log[] = [];
    try {
      for (let index = 0; index < record.partitions; index += 1) {
        const directory = this.#partitionDirectory(record.name, index);
        // A new topic starts from nothing, whatever an earlier topic of that name left.
        if (fresh) fs.rmSync(directory, { recursive: true, force: true });
        logs.push(Log.open(directory, { config, onBackgroundError: this.#onBackgroundError, ...this.#logOptions }));
      }
    } catch (error) {
      const failed = this.#partitionDirectory(record.name, logs.length);
      const undos = logs.map((log) => (fresh ? () => log.delete() : () => log.close()));
      if (fresh) undos.push(() => fs.rmSync(failed, { recursive: true, force: true }));
      for (const undo of undos) {
        try {
          undo();
        } catch {
          // The first error is the one to report; these logs are being given up anyway.
        }
      }
      throw storageError(`topic ${record.name}: partition ${logs.length} of ${record.partitions} could not be opened`, error);
    }
    return logs;
  }

  /** Called with every partition open now and every one opened later. */
  onPartitionOpened(init: (partition: Partition) => void): void {
    this.#partitionOpened = init;
    for (const topic of this.#topics.values()) for (const partition of topic.partitions) init(partition);
  }

  #register(record: TopicRecord, config: LogConfig, logs: ReadonlyArray<Log | (() => Log)>): Topic {
    return this.#registerPartitions(record, config, logs.map((log, index) => new Partition(record.name, index, log)));
  }

  #registerPartitions(record: TopicRecord, config: LogConfig, partitions: Partition[]): Topic {
    if (this.#partitionOpened !== undefined) for (const partition of partitions) this.#partitionOpened(partition);
    const topic = new Topic(record, config, partitions);
    this.#add(topic);
    return topic;
  }

  #partitionDirectory(topic: string, partition: number): string {
    return path.join(this.dataDirectory, `${topic}-${partition}`);
  }

  /**
   * Checks a create request; with `validateOnly` nothing is written. Reserved `__` names are
   * the broker's own: only its internal stores pass owner `'broker'`; no request handler does.
   */
  create(name: string, partitions: number, configs: Record<string, string>, validateOnly = false, owner: 'user' | 'broker' = 'user'): Topic | undefined {
    this.#checkCreate(name, partitions, configs, owner);
    const store = this.#localStore;
    if (validateOnly) return undefined;
    const record: TopicRecord = { name, partitions, configs, createdAtMs: Date.now(), topicId: crypto.randomUUID() };
    const config = this.#configOf(record);
    const logs = this.#openLogs(record, config, true);
    try {
      store.save(record);
    } catch (error) {
      // The record may exist without being durable (the directory sync failed): take it back too.
      for (const undo of [...logs.map((log) => () => log.delete()), () => store.remove(name)]) {
        try {
          undo();
        } catch {
          // The save's error is the one to report; what stays behind is removed by a re-create.
        }
      }
      throw storageError(`topic ${name} could not be saved; nothing was created`, error);
    }
    return this.#register(record, config, logs);
  }

  #checkCreate(name: string, partitions: number, configs: Record<string, string>, owner: 'user' | 'broker'): void {
    checkTopicName(name);
    if (owner === 'user') checkNotInternal(name, 'create');
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > limits.partitionsMax) {
      throw new SluiceError('SLUICE_ERR_INVALID_PARTITIONS', `topic ${name}: ${partitions} partitions requested, allowed 1..${limits.partitionsMax}`);
    }
    if (this.#topics.has(name)) throw new SluiceError('SLUICE_ERR_TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    if (this.#creating.has(name)) throw new SluiceError('SLUICE_ERR_TOPIC_ALREADY_EXISTS', `topic ${name} is being created`);
    resolveLogConfig({ ...this.#defaults, ...parseLogConfigEntries(configs) });
    // The broker's own few internal partitions are never refused: groups and transactions need them.
    if (owner === 'user') this.#checkBudget(name, partitions);
  }

  /** True while a create of this name is under way (its topic not yet visible). */
  isBeingCreated(name: string): boolean {
    return this.#creating.has(name);
  }

  /** Partitions open here, and those of topics being created. */
  get partitionsHeld(): number {
    let held = 0;
    for (const topic of this.#topics.values()) held += topic.partitions.length;
    for (const count of this.#creating.values()) held += count;
    return held;
  }

  #checkBudget(name: string, adding: number): void {
    const { max, source } = this.partitionBudget;
    const held = this.partitionsHeld;
    if (held + adding <= max) return;
    throw new SluiceError('SLUICE_ERR_POLICY_VIOLATION',
      `topic ${name}: ${adding} more partitions would bring this broker to ${held + adding}, past its budget of ${max} partitions (${source}); nothing was created. Raise the budget with --max-partitions (and vm.max_map_count, each partition maps up to 3 files per segment), or delete topics`);
  }

  /**
   * Creates a topic without holding the event loop (CreateTopics on a single broker): the
   * partition logs are opened in slices of a few milliseconds, their directories then synced
   * on the thread pool and the data directory once, and the record saved last; only then does
   * the topic appear. A note written first lets a start after a crash remove a half-made topic
   * (see `open`). A failure closes and removes everything made and saves nothing.
   */
  async createAsync(name: string, partitions: number, configs: Record<string, string>): Promise<Topic> {
    this.#checkCreate(name, partitions, configs, 'user');
    const store = this.#localStore;
    const record: TopicRecord = { name, partitions, configs, createdAtMs: Date.now(), topicId: crypto.randomUUID() };
    const config = this.#configOf(record);
    this.#creating.set(name, partitions);
    try {
      await this.#deleting.get(name);
      await store.markCreating(name, partitions);
      const logs: Log[] = [];
      // Built with the logs, slice by slice: ten thousand at the end made the create's longest turn.
      const built: Partition[] = [];
      const turns = new Turns();
      const directories = Array.from({ length: partitions }, (_, index) => this.#partitionDirectory(name, index));
      let step = 'opened';
      try {
        // A new topic starts from nothing, whatever an earlier topic of that name left.
        await eachOnThreadPool(directories, prepareEmptyLog);
        for (const directory of directories) {
          const log = Log.open(directory, { config, onBackgroundError: this.#onBackgroundError, ...this.#logOptions, directorySyncedByCaller: true });
          logs.push(log);
          built.push(new Partition(name, built.length, log));
          await turns.pause();
        }
        step = 'synced';
        await syncDirectoriesAsync(logs.map((log) => log.directory));
        await syncDirectoriesAsync([this.dataDirectory]);
        step = 'saved';
        await store.saveAsync(record);
      } catch (error) {
        await this.#undoCreate(record, logs, turns);
        const where = step === 'opened' ? `partition ${logs.length} of ${partitions} could not be opened` : `its partitions could not be ${step}`;
        throw storageError(`topic ${name}: ${where}; nothing was created`, error);
      }
      await store.clearCreatingAsync(name);
      return this.#registerPartitions(record, config, built);
    } finally {
      this.#creating.delete(name);
    }
  }

  /** Takes back a create that failed: its logs and directories, its record if it got that far, its note. */
  async #undoCreate(record: TopicRecord, logs: Log[], turns: Turns): Promise<void> {
    const store = this.#localStore;
    const undos = [
      ...logs.map((log) => () => log.delete()),
      ...Array.from({ length: record.partitions - logs.length }, (_, offset) =>
        () => fs.rmSync(this.#partitionDirectory(record.name, logs.length + offset), { recursive: true, force: true })),
      () => store.remove(record.name),
      () => store.clearCreating(record.name),
    ];
    for (const undo of undos) {
      try {
        undo();
      } catch {
        // The create's error is the one to report; the note stays if it cannot go, and the next start removes the rest.
      }
      await turns.pause();
    }
  }

  /**
   * CreatePartitions on a single broker: grows the topic to `count` partitions (never shrinks
   * it). The new logs are opened first and the record saved last, as `create` does, so a failure
   * leaves the topic as it was.
   */
  addPartitions(name: string, count: number, validateOnly = false): void {
    const topic = this.get(name);
    const current = topic.record.partitions;
    if (!Number.isInteger(count) || count <= current || count > limits.partitionsMax) {
      throw new SluiceError('SLUICE_ERR_INVALID_PARTITIONS', `topic ${name} has ${current} partitions; it can grow to ${current + 1}..${limits.partitionsMax}, not ${count}`);
    }
    const store = this.#localStore;
    if (validateOnly) return;
    const record: TopicRecord = { ...topic.record, partitions: count };
    const added: Log[] = [];
    try {
      for (let index = current; index < count; index += 1) {
        const directory = this.#partitionDirectory(name, index);
        fs.rmSync(directory, { recursive: true, force: true });
        added.push(Log.open(directory, { config: topic.config, onBackgroundError: this.#onBackgroundError, ...this.#logOptions }));
      }
      store.save(record);
    } catch (error) {
      for (const log of added) {
        try {
          log.delete();
        } catch {
          // The first error is the one to report; a later create or restart removes what is left.
        }
      }
      throw storageError(`topic ${name} could not grow to ${count} partitions; it keeps ${current}`, error);
    }
    topic.updateRecord(record);
    added.forEach((log, offset) => {
      const partition = new Partition(name, current + offset, log);
      this.#partitionOpened?.(partition);
      topic.add(partition);
    });
  }

  /**
   * Replaces a topic's config overrides on a single broker (IncrementalAlterConfigs): checked,
   * saved, then applied to the open logs (see `applyConfig`).
   */
  alterConfigs(name: string, configs: Record<string, string>, validateOnly = false): void {
    const topic = this.get(name);
    const config = resolveLogConfig({ ...this.#defaults, ...parseLogConfigEntries(configs) });
    checkLiveChange(topic.config, config);
    const store = this.#localStore;
    if (validateOnly) return;
    const record: TopicRecord = { ...topic.record, configs };
    store.save(record);
    applyConfig(topic, record, config);
  }

  /** In a cluster: the topic's record in etcd changed (partitions added, configs altered); follows it here. */
  recordChanged(record: TopicRecord): void {
    const topic = this.#topics.get(record.name);
    if (topic === undefined) return;
    applyConfig(topic, record, this.resolveConfig(record.configs));
  }

  /** A topic's effective settings for its config overrides: the broker's defaults under them. */
  resolveConfig(configs: Record<string, string>): LogConfig {
    return resolveLogConfig({ ...this.#defaults, ...parseLogConfigEntries(configs) });
  }

  /**
   * Removes a topic. Once its record is gone the topic is deleted; a partition whose files
   * cannot all be removed is still closed, and the error names it.
   */
  delete(name: string): void {
    for (const step of this.#deletingLogs(this.#forget(name).partitions)) void step;
  }

  /** Deletes each partition's log, pausing after each; throws the first failure once all are done. */
  *#deletingLogs(partitions: readonly Partition[]): Generator<void> {
    let failure: unknown;
    for (const partition of partitions) {
      try {
        this.#deleteLog(partition);
      } catch (error) {
        failure ??= error;
      }
      yield;
    }
    if (failure !== undefined) throw failure;
  }

  /** Its record goes first (a crash never brings it back), then it is gone from lookups. */
  #forget(name: string): Topic {
    const topic = this.get(name);
    this.#store?.remove(name);
    this.#topics.delete(name);
    if (topic.record.topicId !== undefined) this.#namesById.delete(topic.record.topicId);
    return topic;
  }

  /**
   * DeleteTopics on a single broker: as `delete`, with the partitions removed in slices of a
   * few milliseconds. A create of the same name meanwhile waits until they are gone.
   */
  async deleteAsync(name: string): Promise<void> {
    const topic = this.#forget(name);
    const removal = (async () => {
      const turns = new Turns();
      const steps = this.#deletingLogs(topic.partitions);
      while (steps.next().done !== true) await turns.pause();
    })();
    const settled = removal.then(() => {}, () => {});
    this.#deleting.set(name, settled);
    try {
      await removal;
    } finally {
      if (this.#deleting.get(name) === settled) this.#deleting.delete(name);
    }
  }

  #deleteLog(partition: Partition): void {
    partition.close();
    const directory = this.#partitionDirectory(partition.topic, partition.index);
    const doomed = `${directory}.${Date.now()}-delete`;
    let failure: unknown;
    try {
      // Renamed first, so a crash half-way leaves a directory the next start knows to remove.
      fs.renameSync(directory, doomed);
    } catch (error) {
      failure ??= storageError(`cannot rename ${directory} for deletion`, error);
    }
    try {
      partition.openedLog?.delete();
      fs.rmSync(doomed, { recursive: true, force: true });
    } catch (error) {
      failure ??= storageError(`cannot remove partition ${partition.index} of topic ${partition.topic}`, error);
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * In a cluster: opens this broker's replica of one partition as the metadata assigns it,
   * creating its log if it has none. A directory left by an earlier topic of the same name
   * (its `partition.metadata` names another topic id) is emptied first, so a re-created
   * topic never inherits the old one's records.
   */
  openReplica(record: TopicRecord, index: number): Partition {
    let topic = this.#topics.get(record.name);
    if (topic === undefined) {
      topic = new Topic(record, this.#configOf(record), []);
      this.#add(topic);
    }
    const existing = topic.partitionAt(index);
    if (existing !== undefined) return existing;
    const directory = this.#partitionDirectory(record.name, index);
    const markerName = 'partition.metadata';
    const marker = path.join(directory, markerName);
    const expected = `version: 0\ntopic_id: ${record.topicId ?? ''}\n`;
    let ours = false;
    try {
      ours = fs.readFileSync(marker, 'utf8') === expected;
    } catch {
      // No marker: a new replica, or one whose creation did not finish.
    }
    const log = storageStep(`cannot open partition ${index} of topic ${record.name}`, () => {
      if (!ours) fs.rmSync(directory, { recursive: true, force: true });
      const opened = Log.open(directory, { config: topic.config, onBackgroundError: this.#onBackgroundError, ...this.#logOptions });
      // Written after the log exists: a crash in between leaves no marker, and the next open starts clean.
      if (!ours) writeTextCheckpoint(directory, markerName, expected);
      return opened;
    });
    const partition = new Partition(record.name, index, log);
    this.#partitionOpened?.(partition);
    topic.add(partition);
    return partition;
  }

  /** In a cluster: this broker is no longer a replica of the partition; its log is removed. */
  removeReplica(name: string, index: number): void {
    const topic = this.#topics.get(name);
    const partition = topic?.remove(index);
    if (partition !== undefined) this.#deleteLog(partition);
  }

  get(name: string): Topic {
    const topic = this.#topics.get(name);
    if (topic === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${JSON.stringify(name)}`);
    return topic;
  }

  find(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  nameById(topicId: string): string | undefined {
    return this.#namesById.get(topicId);
  }

  #add(topic: Topic): void {
    this.#topics.set(topic.record.name, topic);
    if (topic.record.topicId !== undefined) this.#namesById.set(topic.record.topicId, topic.record.name);
  }

  partition(topicName: string, index: number): Partition {
    const topic = this.get(topicName);
    const partition = topic.partitionAt(index);
    if (partition !== undefined) return partition;
    if (Number.isInteger(index) && index >= 0 && index < topic.record.partitions) {
      throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `this broker holds no replica of partition ${index} of topic ${topicName}`);
    }
    throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${topicName} has partitions 0..${topic.record.partitions - 1}, not ${index}`);
  }

  topics(): Topic[] {
    return [...this.#topics.values()].sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  /**
   * The logs open now. A partition not used since the start has none yet, so retention and
   * compaction reach it only once something reads or writes it.
   */
  *logs(): Iterable<Log> {
    for (const topic of this.#topics.values()) {
      for (const partition of topic.partitions) if (partition.openedLog !== undefined) yield partition.openedLog;
    }
  }

  /**
   * Syncs every open log's appended records on the thread pool, a few logs at a time (before a
   * stop: the close that follows then has little left to write). A log whose sync fails goes
   * offline, which its close then handles.
   */
  async flushOpenLogs(): Promise<void> {
    await eachOnThreadPool([...this.logs()], async (log) => {
      try {
        await log.flush();
      } catch {
        // The log is offline (this sync or an earlier one failed): its close leaves it to recovery.
      }
    });
  }

  /**
   * Closes every log, syncs the filesystem once for all of them, then leaves each one's
   * clean-shutdown marker (see CleanStop); throws the first failure after closing all.
   */
  close(): void {
    let failure: unknown;
    for (const topic of this.#topics.values()) for (const partition of topic.partitions) partition.close();
    const stop = new CleanStop();
    for (const log of this.logs()) {
      try {
        log.close(stop);
      } catch (error) {
        failure ??= error;
      }
    }
    try {
      stop.finish(this.dataDirectory);
    } catch (error) {
      failure ??= error;
    }
    this.#topics.clear();
    this.#namesById.clear();
    this.#store?.close();
    if (failure !== undefined) throw failure;
  }
}
