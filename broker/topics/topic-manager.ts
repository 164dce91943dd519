/**
 * The broker's topics and their partition logs: create, delete, look up, and the append
 * notifications that wake long-polling fetches. Partition `p` of topic `t` lives in
 * `<data>/t-p/`.
 *
 * Creating a topic opens every partition log first and saves the topic's record last, so a
 * create that fails half-way (out of descriptors or memory) closes and removes what it opened
 * and leaves no record behind that every later start would trip over. Deleting a topic first
 * removes its record (so a crash mid-delete never brings it back), then renames each partition
 * directory to `…-delete`, closes its log (descriptors and disk blocks freed at once) and
 * removes it; a start finishes any such removal left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { Log, type LogOptions } from '../storage/log.js';
import { type LogConfig, parseLogConfigEntries, resolveLogConfig } from '../storage/log-config.js';
import { storageError } from '../storage/storage-error.js';
import { limits } from '../limits.js';
import { Partition } from './partition.js';
import { checkNotInternal, checkTopicName } from './topic-name.js';
import { type TopicRecord, TopicStore } from './topic-store.js';

export { type AppendListener, Partition } from './partition.js';

export interface Topic {
  record: TopicRecord;
  config: LogConfig;
  partitions: Partition[];
}

export class TopicManager {
  readonly dataDirectory: string;
  readonly #store: TopicStore;
  readonly #defaults: Partial<LogConfig>;
  readonly #topics = new Map<string, Topic>();
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #logOptions: Pick<LogOptions, 'hooks' | 'deletedSegmentReadGraceMs'>;
  /** Runs on every partition opened (a replica manager takes them out of the self-led default). */
  #partitionOpened: ((partition: Partition) => void) | undefined;

  constructor(
    dataDirectory: string, defaults: Partial<LogConfig>, onBackgroundError: (error: unknown) => void,
    logOptions: Pick<LogOptions, 'hooks' | 'deletedSegmentReadGraceMs'> = {},
  ) {
    this.dataDirectory = dataDirectory;
    this.#defaults = defaults;
    this.#onBackgroundError = onBackgroundError;
    this.#logOptions = logOptions;
    fs.mkdirSync(dataDirectory, { recursive: true });
    this.#store = new TopicStore(dataDirectory);
  }

  /**
   * Opens every known topic's logs (recovering them after a crash). If one cannot be opened
   * the logs already open are closed again and the error says which partition failed.
   */
  open(): void {
    for (const name of fs.readdirSync(this.dataDirectory)) {
      if (name.endsWith('-delete')) fs.rmSync(path.join(this.dataDirectory, name), { recursive: true, force: true });
    }
    try {
      for (const record of this.#store.load()) {
        const config = this.#configOf(record);
        this.#register(record, config, this.#openLogs(record, config));
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  #configOf(record: TopicRecord): LogConfig {
    return resolveLogConfig({ ...this.#defaults, ...parseLogConfigEntries(record.configs) });
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

  #register(record: TopicRecord, config: LogConfig, logs: Log[]): Topic {
    const partitions = logs.map((log, index) => new Partition(record.name, index, log));
    if (this.#partitionOpened !== undefined) for (const partition of partitions) this.#partitionOpened(partition);
    const topic = { record, config, partitions };
    this.#topics.set(record.name, topic);
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
    checkTopicName(name);
    if (owner === 'user') checkNotInternal(name, 'create');
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > limits.partitionsMax) {
      throw new SluiceError('SLUICE_ERR_INVALID_PARTITIONS', `topic ${name}: ${partitions} partitions requested, allowed 1..${limits.partitionsMax}`);
    }
    if (this.#topics.has(name)) throw new SluiceError('SLUICE_ERR_TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    resolveLogConfig({ ...this.#defaults, ...parseLogConfigEntries(configs) });
    if (validateOnly) return undefined;
    const record: TopicRecord = { name, partitions, configs, createdAtMs: Date.now() };
    const config = this.#configOf(record);
    const logs = this.#openLogs(record, config, true);
    try {
      this.#store.save(record);
    } catch (error) {
      // The record may exist without being durable (the directory sync failed): take it back too.
      for (const undo of [...logs.map((log) => () => log.delete()), () => this.#store.remove(name)]) {
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

  /**
   * Removes a topic. Once its record is gone the topic is deleted; a partition whose files
   * cannot all be removed is still closed, and the error names it.
   */
  delete(name: string): void {
    const topic = this.get(name);
    this.#store.remove(name);
    this.#topics.delete(name);
    let failure: unknown;
    for (const partition of topic.partitions) {
      partition.close();
      const directory = this.#partitionDirectory(name, partition.index);
      const doomed = `${directory}.${Date.now()}-delete`;
      try {
        // Renamed first, so a crash half-way leaves a directory the next start knows to remove.
        fs.renameSync(directory, doomed);
      } catch (error) {
        failure ??= storageError(`cannot rename ${directory} for deletion`, error);
      }
      try {
        partition.log.delete();
        fs.rmSync(doomed, { recursive: true, force: true });
      } catch (error) {
        failure ??= storageError(`cannot remove partition ${partition.index} of topic ${name}`, error);
      }
    }
    if (failure !== undefined) throw failure;
  }

  get(name: string): Topic {
    const topic = this.#topics.get(name);
    if (topic === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${JSON.stringify(name)}`);
    return topic;
  }

  find(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  partition(topicName: string, index: number): Partition {
    const topic = this.get(topicName);
    const partition = topic.partitions[index];
    if (partition === undefined) {
      throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `topic ${topicName} has partitions 0..${topic.partitions.length - 1}, not ${index}`);
    }
    return partition;
  }

  topics(): Topic[] {
    return [...this.#topics.values()].sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  *logs(): Iterable<Log> {
    for (const topic of this.#topics.values()) for (const partition of topic.partitions) yield partition.log;
  }

  /** Syncs and closes every log, leaving each one's clean-shutdown marker; throws the first failure after closing all. */
  close(): void {
    let failure: unknown;
    for (const topic of this.#topics.values()) for (const partition of topic.partitions) partition.close();
    for (const log of this.logs()) {
      try {
        log.close();
      } catch (error) {
        failure ??= error;
      }
    }
    this.#topics.clear();
    if (failure !== undefined) throw failure;
  }
}
