/**
 * Topic metadata on disk: `<data>/topics/<name>.json` per topic (partition count and config
 * overrides), written to a temporary file, synced and renamed, so a crash leaves the old file
 * or the new one. It is read once at start; the partition logs live beside it in the data dir.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeTextFileDurably } from '../storage/checkpoint.js';
import { storageError, storageStep } from '../storage/storage-error.js';

/** A topic being created: `<name>.creating` beside the records (never a `.json`, so never loaded as one). */
const creatingSuffix = '.creating';

export interface TopicRecord {
  name: string;
  partitions: number;
  configs: Record<string, string>;
  createdAtMs: number;
  /**
   * The topic's id (a UUID), so a re-created topic of the same name is told apart: in a cluster
   * the one etcd holds; on a single broker its own, made at creation (or at the first start of
   * a data directory from before ids). Kafka clients name topics by it.
   */
  topicId?: string;
}

export class TopicStore {
  readonly directory: string;
  /**
   * The directory, held open from the first change on: deleting a topic is how an operator frees
   * descriptors, so removing its record must not need a new one to sync the directory.
   */
  #directoryFd: number | undefined;

  constructor(dataDirectory: string) {
    this.directory = path.join(dataDirectory, 'topics');
    fs.mkdirSync(this.directory, { recursive: true });
  }

  #syncDirectory(): void {
    storageStep(`cannot sync directory ${this.directory}`, () => {
      this.#directoryFd ??= fs.openSync(this.directory, 'r');
      fs.fsyncSync(this.#directoryFd);
    });
  }

  close(): void {
    if (this.#directoryFd === undefined) return;
    fs.closeSync(this.#directoryFd);
    this.#directoryFd = undefined;
  }

  load(): TopicRecord[] {
    const records: TopicRecord[] = [];
    for (const name of storageStep(`cannot list ${this.directory}`, () => fs.readdirSync(this.directory))) {
      const file = path.join(this.directory, name);
      if (name.endsWith('.tmp')) storageStep(`cannot remove ${file}`, () => fs.rmSync(file, { force: true }));
      if (!name.endsWith('.json')) continue;
      records.push(storageStep(`cannot read topic record ${file}`, () => JSON.parse(fs.readFileSync(file, 'utf8')) as TopicRecord));
    }
    return records.sort((a, b) => a.name.localeCompare(b.name));
  }

  save(record: TopicRecord): void {
    const target = path.join(this.directory, `${record.name}.json`);
    const temporary = `${target}.tmp`;
    storageStep(`cannot write topic record ${target}`, () => {
      const fd = fs.openSync(temporary, 'w', 0o644);
      try {
        fs.writeSync(fd, `${JSON.stringify(record, null, 2)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temporary, target);
    });
    this.#syncDirectory();
  }

  /**
   * Notes, durably, that a topic of `partitions` partitions is being created, before any of its
   * directories exists: a start that finds the note without the topic's record removes what the
   * interrupted creation made (see `unfinishedCreations`). Written on the thread pool.
   */
  async markCreating(name: string, partitions: number): Promise<void> {
    await writeTextFileDurably(path.join(this.directory, `${name}${creatingSuffix}`), `${JSON.stringify({ name, partitions })}\n`);
  }

  /** `save` on the thread pool (a new topic's record: the request path must not wait on fsyncs). */
  async saveAsync(record: TopicRecord): Promise<void> {
    await writeTextFileDurably(path.join(this.directory, `${record.name}.json`), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The creation is over (the record saved, or everything it made removed). */
  clearCreating(name: string): void {
    const file = path.join(this.directory, `${name}${creatingSuffix}`);
    storageStep(`cannot remove ${file}`, () => fs.rmSync(file, { force: true }));
  }

  /** `clearCreating` on the thread pool: an unlink on a busy disk was the longest turn of a create. */
  async clearCreatingAsync(name: string): Promise<void> {
    const file = path.join(this.directory, `${name}${creatingSuffix}`);
    try {
      await fs.promises.rm(file, { force: true });
    } catch (cause) {
      throw storageError(`cannot remove ${file}`, cause);
    }
  }

  /** Creations a crash interrupted: their notes, whether or not the record was saved. */
  unfinishedCreations(): Array<{ name: string; partitions: number; saved: boolean }> {
    const found: Array<{ name: string; partitions: number; saved: boolean }> = [];
    for (const entry of storageStep(`cannot list ${this.directory}`, () => fs.readdirSync(this.directory))) {
      if (!entry.endsWith(creatingSuffix)) continue;
      const file = path.join(this.directory, entry);
      const note = storageStep(`cannot read ${file}`, () => JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; partitions: number });
      found.push({ ...note, saved: fs.existsSync(path.join(this.directory, `${note.name}.json`)) });
    }
    return found;
  }

  remove(name: string): void {
    const file = path.join(this.directory, `${name}.json`);
    storageStep(`cannot remove topic record ${file}`, () => fs.rmSync(file, { force: true }));
    this.#syncDirectory();
  }
}
