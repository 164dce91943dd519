/** What the `sluice bench` coordinator and its worker processes say to each other over IPC. */
import type { Compression } from '../../proto/record-batch/record-batch.js';

export interface WorkerTask {
  role: 'producer' | 'consumer';
  index: number;
  bootstrap: string;
  topic: string;
  /** Records this worker sends or reads (Infinity with a duration). */
  records: number;
  durationMs?: number;
  /** Records per second for this worker; absent = as fast as possible. */
  rate?: number;
  recordBytes: number;
  keys: 'none' | 'random' | string;
  acks: 0 | 1 | -1;
  compression: Compression;
  batchSize: number;
  lingerMs: number;
  /** Producers: false for the at-least-once producer; absent: the client's default. */
  idempotent?: boolean;
  /** Producers: commit a transaction every `recordsPerTxn` records under this transactional id. */
  transaction?: { transactionalId: string; recordsPerTxn: number };
  /** Consumers: the partitions this one reads. */
  partitions: number[];
  /** Consumers in e2e: record send-to-receive latency from the timestamps producers wrote. */
  measureLatency: boolean;
  /**
   * Producers of a --verify run: every record carries its id and partition (bench/verify.ts),
   * failed sends are counted rather than fatal, and the acknowledged ids are written to
   * `ackFile` before the worker reports that it is done.
   */
  verify?: { producerId: string; partitionCount: number; ackFile: string };
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'tick'; records: number; bytes: number; histogram: string }
  | { kind: 'done'; totalRecords: number; failedRecords?: number; transactions?: number }
  | { kind: 'error'; message: string; totalRecords: number };
