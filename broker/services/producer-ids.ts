/**
 * Producer ids for idempotent and transactional producers, unique across the cluster and
 * across restarts, as Kafka's ProducerIdManager hands them out: a broker claims a block of
 * `producerIdBlockSize` ids at a time and gives them out one by one from memory.
 *
 * - In a cluster the block is claimed in etcd with one compare-and-swap on one key (the last
 *   block given to any broker): read it, write the next one if nobody wrote since. Two brokers
 *   that race both read the same block; only one write succeeds, the other reads again.
 * - On a single broker the end of the block is written to a file in the data directory,
 *   synced and renamed into place, before any id of the block is handed out; after a crash
 *   the next block starts there, so no id is handed out twice, at the cost of skipping the
 *   unused rest of a block.
 *
 * Ids are JavaScript numbers, so they stay below 2^53; a store that would pass it refuses.
 */
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { SluiceError } from '../../proto/errors.js';
import type { InitProducerIdRequest } from '../../proto/messages.js';
import { storeError } from '../cluster/store-error.js';
import { readTextCheckpoint, syncDirectory, writeTextCheckpoint } from '../storage/checkpoint.js';
import type { BrokerContext } from '../api/context.js';
import { initTransactionalProducer } from '../transactions/init-producer-id.js';

/** Kafka's block size (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
export const producerIdBlockSize = 1000;
export const producerIdBlockFile = 'producer-id-block';
/** Ids are JS numbers: the last usable one. */
const producerIdMax = Number.MAX_SAFE_INTEGER;

/** Ids first..end-1. */
export interface ProducerIdBlock {
  first: number;
  end: number;
}

/** Where blocks come from; each claim is durable before it returns. */
export interface ProducerIdBlockSource {
  claim(size: number): Promise<ProducerIdBlock>;
}

export class ProducerIdAllocator {
  readonly #source: () => ProducerIdBlockSource;
  readonly #blockSize: number;
  #next = 0;
  #end = 0;
  /** A claim in progress, shared by every allocate() that found the block used up. */
  #claiming: Promise<void> | undefined;

  /** `source` is asked for on each claim, so a cluster broker can be built before it has joined etcd. */
  constructor(source: ProducerIdBlockSource | (() => ProducerIdBlockSource), blockSize = producerIdBlockSize) {
    this.#source = typeof source === 'function' ? source : () => source;
    this.#blockSize = blockSize;
  }

  async allocate(): Promise<number> {
    while (this.#next >= this.#end) {
      this.#claiming ??= this.#claim().finally(() => { this.#claiming = undefined; });
      await this.#claiming;
    }
    const id = this.#next;
    this.#next += 1;
    return id;
  }

  async #claim(): Promise<void> {
    const block = await this.#source().claim(this.#blockSize);
    this.#next = block.first;
    this.#end = block.end;
  }
}

function checkedBlock(first: number, size: number, where: string): ProducerIdBlock {
  const end = first + size;
  if (!Number.isSafeInteger(first) || first < 0 || end > producerIdMax) {
    throw new SluiceError('SLUICE_ERR_UNKNOWN', `producer ids are used up: ${where} is at ${first}, and ids must stay below 2^53`);
  }
  return { first, end };
}

/** A single broker's blocks: the end of the last claimed block, in `<dataDirectory>/producer-id-block`. */
export class FileBlockSource implements ProducerIdBlockSource {
  readonly #directory: string;

  constructor(dataDirectory: string) {
    this.#directory = dataDirectory;
  }

  /** The end of the last block claimed (0 when none was); a garbled file is refused, never guessed. */
  lastEnd(): number {
    const text = readTextCheckpoint(this.#directory, producerIdBlockFile);
    if (text === undefined) return 0;
    const [version, value] = text.split('\n');
    const end = Number(value);
    if (version !== '0' || value === '' || !Number.isSafeInteger(end) || end < 0) {
      // Guessing low could hand out ids twice; the rename makes a torn file impossible, so this is damage.
      throw new SluiceError('SLUICE_ERR_STORAGE', `${path.join(this.#directory, producerIdBlockFile)} is garbled, so which producer ids were handed out is unknown; `
        + 'write a number above every producer id in use (e.g. "0\\n1000000000\\n") into it');
    }
    return end;
  }

  async claim(size: number): Promise<ProducerIdBlock> {
    const block = checkedBlock(this.lastEnd(), size, path.join(this.#directory, producerIdBlockFile));
    writeTextCheckpoint(this.#directory, producerIdBlockFile, `0\n${block.end}\n`);
    // The rename is durable only once the directory is.
    syncDirectory(this.#directory);
    return block;
  }
}

/** What the etcd key holds: the last block claimed, and by whom (for people reading etcd). */
interface StoredBlock {
  version: 1;
  nodeId: number;
  first: number;
  end: number;
}

/** A cluster's blocks: one etcd key holds the last block claimed by any broker. */
export class EtcdBlockSource implements ProducerIdBlockSource {
  readonly #client: Etcd3;
  readonly #key: string;
  readonly #nodeId: number;

  constructor(client: Etcd3, key: string, nodeId: number) {
    this.#client = client;
    this.#key = key;
    this.#nodeId = nodeId;
  }

  async claim(size: number): Promise<ProducerIdBlock> {
    for (let attempt = 0; ; attempt += 1) {
      let succeeded: boolean;
      let block: ProducerIdBlock;
      try {
        const read = await this.#client.get(this.#key).exec();
        const kv = read.kvs[0];
        const lastEnd = kv === undefined ? 0 : this.#decode(kv.value.toString());
        block = checkedBlock(lastEnd, size, `etcd key ${this.#key}`);
        const value: StoredBlock = { version: 1, nodeId: this.#nodeId, first: block.first, end: block.end };
        // Mod revision 0 is "no such key": the same compare covers the first claim.
        const result = await this.#client.if(this.#key, 'Mod', '==', kv === undefined ? 0 : kv.mod_revision)
          .then(this.#client.put(this.#key).value(JSON.stringify(value)))
          .commit();
        succeeded = result.succeeded;
      } catch (error) {
        throw storeError('claiming a block of producer ids', error);
      }
      if (succeeded) return block;
      // Another broker claimed the block this one read; read again. Bounded so a broken store shows.
      if (attempt >= 100) throw new SluiceError('SLUICE_ERR_METADATA_STORE', `claiming a block of producer ids lost ${attempt + 1} compare-and-swaps on ${this.#key} in a row`);
    }
  }

  #decode(text: string): number {
    let stored: Partial<StoredBlock> | undefined;
    try {
      stored = JSON.parse(text) as Partial<StoredBlock>;
    } catch {
      stored = undefined;
    }
    if (stored?.version !== 1 || !Number.isSafeInteger(stored.end) || stored.end! < 0) {
      throw new SluiceError('SLUICE_ERR_METADATA_STORE', `etcd key ${this.#key} does not hold a producer id block (${JSON.stringify(text.slice(0, 100))}); which ids were handed out is unknown`);
    }
    return stored.end!;
  }
}

/**
 * InitProducerId: a new producer id with epoch 0 for an idempotent producer. A transactional
 * id is the transaction coordinator's (initTransactionalProducer).
 */
export async function initProducerId(context: BrokerContext, request: InitProducerIdRequest): Promise<{ producerId: number; producerEpoch: number }> {
  const transactionalId = request.transactionalId ?? '';
  if (transactionalId !== '') return initTransactionalProducer(context, request);
  return { producerId: await context.producerIds.allocate(), producerEpoch: 0 };
}
