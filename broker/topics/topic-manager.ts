/**
 * The broker's topics and their partition logs: create, delete, look up, and the append
 * notifications that wake long-polling fetches. Partition `p` of topic `t` lives in
 * `<data>/t-p/`. Deleting a topic first removes its metadata (so a crash mid-delete never
 * brings it back), then renames each partition directory to `…-delete` and removes it; a
 * start finishes any such removal left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { Log } from '../storage/log.js';
import { type LogConfig, parseLogConfigEntries, resolveLogConfig } from '../storage/log-config.js';
import { limits } from '../limits.js';
import { checkNotInternal, checkTopicName } from './topic-name.js';
import { type TopicRecord, TopicStore } from './topic-store.js';

export type AppendListener = (bytes: number) => void;

export class Partition {
  readonly topic: string;
  readonly index: number;
  readonly log: Log;
  readonly #listeners = new Set<AppendListener>();

  constructor(topic: string, index: number, log: Log) {
    this.topic = topic;
    this.index = index;
    this.log = log;
  }

  /** Called after each append with its size; returns the function that unsubscribes. */
  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notifyAppend(bytes: number): void {
    for (const listener of this.#listeners) listener(bytes);
  }
}

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

  constructor(dataDirectory: string, defaults: Partial<LogConfig>, onBackgroundError: (error: unknown) => void) {
    this.dataDirectory = dataDirectory;
    this.#defaults = defaults;
    this.#onBackgroundError = onBackgroundError;
    fs.mkdirSync(dataDirectory, { recursive: true });
    this.#store = new TopicStore(dataDirectory);
  }

  /** Opens every known topic's logs (recovering them after a crash). */
  open(): void {
    for (const name of fs.readdirSync(this.dataDirectory)) {
      if (name.endsWith('-delete')) fs.rmSync(path.join(this.dataDirectory, name), { recursive: true, force: true });
    }
    for (const record of this.#store.load()) this.#openTopic(record);
  }

  #openTopic(record: TopicRecord): Topic {
    const config = resolveLogConfig({ ...this.#defaults, ...parseLogConfigEntries(record.configs) });
    const partitions: Partition[] = [];
    for (let index = 0; index < record.partitions; index += 1) {
      const log = Log.open(this.#partitionDirectory(record.name, index), { config, onBackgroundError: this.#onBackgroundError });
      partitions.push(new Partition(record.name, index, log));
    }
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
    for (let index = 0; index < partitions; index += 1) {
      fs.rmSync(this.#partitionDirectory(name, index), { recursive: true, force: true });
    }
    this.#store.save(record);
    return this.#openTopic(record);
  }

  delete(name: string): void {
    const topic = this.get(name);
    this.#store.remove(name);
    this.#topics.delete(name);
    for (const partition of topic.partitions) {
      const directory = this.#partitionDirectory(name, partition.index);
      const doomed = `${directory}.${Date.now()}-delete`;
      partition.log.close();
      fs.renameSync(directory, doomed);
      fs.rmSync(doomed, { recursive: true, force: true });
    }
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

  /** Syncs and closes every log, leaving each one's clean-shutdown marker. */
  close(): void {
    for (const log of this.logs()) log.close();
    this.#topics.clear();
  }
}
