/** The settings and the results of one `sluice bench` run, as written with --json. */
import type { Compression } from '../../proto/record-batch/record-batch.js';
import type { VerifyReport } from '../verify.js';

export interface BenchConfig {
  mode: 'produce' | 'consume' | 'e2e';
  workload?: string;
  bootstrap: string;
  embedded: boolean;
  topic: string;
  partitions: number;
  /** Replicas per partition when the run creates the topic (default: the broker's). */
  replicationFactor?: number;
  /** Configs of the topic when the run creates it (min.insync.replicas, ...). */
  topicConfigs?: Record<string, string>;
  recordBytes: number;
  records?: number;
  durationS?: number;
  /** Records per second across all producers; absent = as fast as possible. */
  rate?: number;
  producers: number;
  consumers: number;
  acks: 0 | 1 | -1;
  compression: Compression;
  keys: 'none' | 'random' | string;
  batchSize: number;
  lingerMs: number;
  /** Latencies of the first seconds are left out of the percentiles (the run warms up). */
  warmupS: number;
  /** produce: tag every record, and read the topic back afterwards to check nothing acknowledged is missing. */
  verify?: boolean;
  /** With verify: where to write the acknowledged ids (bench/verify.ts AckLog), to check again later. */
  acksFile?: string;
  /** false: the at-least-once producer (--no-idempotence); absent: the client's default. */
  idempotent?: boolean;
  /** Transactional producers: one transaction per `recordsPerTxn` records (each producer its own id, suffixed -N with several). */
  transactionalId?: string;
  recordsPerTxn?: number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface SecondSample {
  second: number;
  records: number;
  bytes: number;
  p50Ms?: number;
  p99Ms?: number;
}

export interface BenchResult {
  config: BenchConfig;
  partitions: number;
  startedAt: string;
  environment: { node: string; platform: string; cpus: string; memoryBytes: number };
  /** Per second of the run: records and bytes done, latency percentiles of that second. */
  series: SecondSample[];
  /** send-to-ack for produce runs, send-to-receive for e2e runs. */
  latency?: LatencySummary & { source: 'send-to-ack' | 'send-to-receive' };
  totals: { records: number; bytes: number; seconds: number; recordsPerSec: number; mbps: number };
  /** Set when the run ended early: the result holds what was measured until then. */
  error?: string;
  partial: boolean;
  /** A --verify run: what reading the topic back found. */
  verify?: VerifyReport;
  /** A --verify run: records whose send failed for good (not acknowledged, so not counted as missing). */
  failedRecords?: number;
  /** A --verify run whose read-back could not be done: why. */
  verifyError?: string;
  /** A transactional run: transactions committed, and per second. */
  transactions?: number;
  transactionsPerSec?: number;
}
