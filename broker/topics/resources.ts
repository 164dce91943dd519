/**
 * What the broker's partitions cost it in descriptors and mappings, against its budgets: the
 * figures GET /v1/broker shows and the metrics export.
 */
import { mappingStats } from '../storage/mmap.js';
import { openDescriptors } from '../storage/resource-budget.js';
import { type SegmentCacheStats, segmentCache } from '../storage/segment-cache.js';
import type { TopicManager } from './topic-manager.js';

export interface BrokerResources {
  /** Descriptors the process holds (sockets included); segments hold none between calls. */
  openDescriptors: number | undefined;
  /** RLIMIT_NOFILE as the broker set it at start. */
  fileLimit: { soft: number; hard: number } | undefined;
  /** Live mappings of segment and index files (not yet collected) and the address space they reserve. */
  mappings: number;
  mappedBytes: number;
  /** By state: log open, not opened since the start (lazy), offline after a failed sync, being created. */
  partitions: { open: number; unopened: number; offline: number; creating: number; budget: number; budgetSource: string };
  segments: number;
  /** Sealed segments kept mapped (--segment-cache-size) and how uses of them fared since the start. */
  segmentCache: SegmentCacheStats;
}

export function brokerResources(topics: TopicManager, fileLimit: BrokerResources['fileLimit']): BrokerResources {
  let open = 0;
  let offline = 0;
  let segments = 0;
  let registered = 0;
  for (const topic of topics.topics()) registered += topic.partitions.length;
  for (const log of topics.logs()) {
    if (log.offline) offline += 1;
    else open += 1;
    segments += log.segmentCount;
  }
  const { mappings, bytes } = mappingStats();
  const { max, source } = topics.partitionBudget;
  return {
    openDescriptors: openDescriptors(),
    fileLimit,
    mappings,
    mappedBytes: bytes,
    partitions: { open, unopened: registered - open - offline, offline, creating: topics.partitionsHeld - registered, budget: max, budgetSource: source },
    segments,
    segmentCache: segmentCache.stats(),
  };
}
