/**
 * Prometheus metrics (prom-client), served by the admin HTTP server at /metrics. Counters per
 * topic for bytes and records in and out, a latency histogram per API, open connections, and
 * each partition's log end offset, start offset and size read at scrape time.
 */
import type { ShareFigures } from '../share/share-coordinator.js';
import type { BrokerResources } from '../topics/resources.js';
import client from 'prom-client';
import type { OffsetStore } from '../groups/offset-store.js';
import type { RequestMemory } from '../protocol/request-memory.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { TopicManager } from '../topics/topic-manager.js';

export class BrokerMetrics {
  readonly registry = new client.Registry();
  readonly #bytesIn: client.Counter<'topic'>;
  readonly #recordsIn: client.Counter<'topic'>;
  readonly #bytesOut: client.Counter<'topic'>;
  readonly #recordsOut: client.Counter<'topic'>;
  readonly #latency: client.Histogram<'api'>;
  readonly #connections: client.Gauge;
  readonly #connectionsRefused: client.Counter;
  readonly #slowFrames: client.Counter;

  constructor(topics: () => TopicManager | undefined, offsets: () => OffsetStore | undefined) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    const registers = [this.registry];
    this.#bytesIn = new client.Counter({ name: 'sluice_bytes_in_total', help: 'Record batch bytes appended by producers', labelNames: ['topic'], registers });
    this.#recordsIn = new client.Counter({ name: 'sluice_records_in_total', help: 'Records appended by producers', labelNames: ['topic'], registers });
    this.#bytesOut = new client.Counter({ name: 'sluice_bytes_out_total', help: 'Record batch bytes sent to consumers', labelNames: ['topic'], registers });
    this.#recordsOut = new client.Counter({ name: 'sluice_records_out_total', help: 'Records sent to consumers', labelNames: ['topic'], registers });
    this.#latency = new client.Histogram({
      name: 'sluice_request_duration_seconds', help: 'Time from a request frame arriving to its response being queued', labelNames: ['api'], registers,
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    });
    this.#connections = new client.Gauge({ name: 'sluice_connections', help: 'Open client connections', registers });
    this.#connectionsRefused = new client.Counter({ name: 'sluice_connections_refused_total', help: 'Connections closed on arrival because max.connections were open', registers });
    this.#slowFrames = new client.Counter({ name: 'sluice_slow_frame_connections_closed_total', help: 'Connections closed because a request frame did not arrive whole in time', registers });
    const partitionGauge = (name: string, help: string, read: (log: { logEndOffset: number; logStartOffset: number; size: number; producerCount: number; producersEvicted: number }) => number) =>
      new client.Gauge({
        name, help, labelNames: ['topic', 'partition'], registers,
        collect() {
          this.reset();
          for (const topic of topics()?.topics() ?? []) {
            // Only open logs: a scrape must not open every partition a lazy start left closed.
            for (const partition of topic.partitions) {
              if (partition.openedLog !== undefined) this.set({ topic: topic.record.name, partition: String(partition.index) }, read(partition.openedLog));
            }
          }
        },
      });
    partitionGauge('sluice_log_end_offset', 'Offset the next record appended to the partition gets', (log) => log.logEndOffset);
    partitionGauge('sluice_log_start_offset', 'First offset still readable in the partition', (log) => log.logStartOffset);
    partitionGauge('sluice_log_size_bytes', 'Bytes of record batches on disk for the partition', (log) => log.size);
    partitionGauge('sluice_producer_ids', 'Producer ids whose state (epoch, last batches, open transaction) the partition keeps', (log) => log.producerCount);
    partitionGauge('sluice_producer_ids_evicted', 'Producer ids the partition forgot since it opened to stay within --max-producer-ids-per-partition', (log) => log.producersEvicted);
    new client.Gauge({
      name: 'sluice_group_lag', help: 'Records between a group\'s committed offset and the partition\'s log end', labelNames: ['group', 'topic', 'partition'], registers,
      collect() {
        this.reset();
        const store = offsets();
        for (const group of store?.groups() ?? []) {
          for (const entry of store!.lag(group)) this.set({ group, topic: entry.topic, partition: String(entry.partition) }, entry.lag);
        }
      },
    });
  }

  recordsIn(topic: string, records: number, bytes: number): void {
    this.#recordsIn.inc({ topic }, records);
    this.#bytesIn.inc({ topic }, bytes);
  }

  recordsOut(topic: string, records: number, bytes: number): void {
    if (bytes === 0) return;
    this.#recordsOut.inc({ topic }, records);
    this.#bytesOut.inc({ topic }, bytes);
  }

  /**
   * Replication and cluster figures, read at scrape time: partitions led here whose ISR is short
   * or which have no leader, ISR changes, follower lag, leaderships, whether this broker is the
   * controller, and offsets an unclean election made followers truncate away.
   */
  watchReplication(replicas: ReplicaManager, isController: () => boolean): void {
    const registers = [this.registry];
    const counted = (name: string, help: string, read: (counts: ReturnType<ReplicaManager['counts']>) => number) =>
      new client.Gauge({ name, help, registers, collect() { this.set(read(replicas.counts())); } });
    counted('sluice_under_replicated_partitions', 'Partitions led here whose ISR is smaller than their replica set', (counts) => counts.underReplicatedPartitions);
    counted('sluice_under_min_isr_partitions', 'Partitions led here whose ISR is below min.insync.replicas (acks=all is refused)', (counts) => counts.underMinIsrPartitions);
    counted('sluice_offline_partitions', 'Partitions with a replica here and no leader', (counts) => counts.offlinePartitions);
    counted('sluice_leader_count', 'Partitions this broker leads', (counts) => counts.leaderCount);
    counted('sluice_isr_shrinks_total', 'ISR shrinks this broker made as leader', (counts) => counts.isrShrinks);
    counted('sluice_isr_expands_total', 'ISR expansions this broker made as leader', (counts) => counts.isrExpands);
    counted('sluice_unclean_offsets_lost_total', 'Offsets below a high watermark this broker truncated away as a follower (after an unclean election)', (counts) => counts.offsetsLost);
    new client.Gauge({ name: 'sluice_controller', help: '1 while this broker is the cluster\'s controller', registers, collect() { this.set(isController() ? 1 : 0); } });
    const lag = (name: string, help: string, read: (entry: ReturnType<ReplicaManager['followerLag']>[number]) => number) =>
      new client.Gauge({
        name, help, labelNames: ['topic', 'partition', 'replica'], registers,
        collect() {
          this.reset();
          for (const entry of replicas.followerLag()) this.set({ topic: entry.topic, partition: String(entry.partition), replica: String(entry.replica) }, read(entry));
        },
      });
    lag('sluice_follower_lag_records', 'Records a follower is behind this leader\'s log end (-1: it has not fetched since this broker became leader)', (entry) => entry.lagRecords);
    lag('sluice_follower_lag_ms', 'Time since the follower was last caught up with this leader', (entry) => entry.lagMs);
  }

  /**
   * The transaction coordinator's figures, read at scrape time: transactional ids by state (those
   * in Ongoing and Prepare* are the open transactions), and transactions committed, aborted and
   * aborted for their timeout since the broker started.
   */
  watchTransactions(read: () => { byState: Record<string, number>; committed: number; aborted: number; timedOut: number } | undefined): void {
    const registers = [this.registry];
    new client.Gauge({
      name: 'sluice_transactions', help: 'Transactional ids this broker coordinates, by state (Ongoing and Prepare* are open transactions)', labelNames: ['state'], registers,
      collect() {
        this.reset();
        for (const [state, count] of Object.entries(read()?.byState ?? {})) this.set({ state }, count);
      },
    });
    const counted = (name: string, help: string, pick: (figures: NonNullable<ReturnType<typeof read>>) => number) =>
      new client.Counter({ name, help, registers, collect() { this.reset(); const figures = read(); if (figures !== undefined) this.inc(pick(figures)); } });
    counted('sluice_transactions_committed_total', 'Transactions this coordinator completed as committed', (figures) => figures.committed);
    counted('sluice_transactions_aborted_total', 'Transactions this coordinator completed as aborted (timed-out ones included)', (figures) => figures.aborted);
    counted('sluice_transactions_timed_out_total', 'Transactions this coordinator aborted because they stayed open longer than their timeout', (figures) => figures.timedOut);
  }

  /**
   * Share groups, read at scrape time: records held under a lock now, redeliveries and dead
   * letters by reason since each share-partition began (they survive restarts: they are kept
   * in the share state).
   */
  watchShare(read: () => ShareFigures | undefined): void {
    const registers = [this.registry];
    new client.Gauge({ name: 'sluice_share_in_flight_records', help: 'Records acquired by share consumers and not yet acknowledged, released or expired', registers, collect() { this.set(read()?.inFlight ?? 0); } });
    new client.Gauge({ name: 'sluice_share_members', help: 'Share-group members of the groups this broker coordinates', registers, collect() { this.set(read()?.members ?? 0); } });
    const counted = (name: string, help: string, pick: (counters: ShareFigures['counters']) => number) =>
      new client.Counter({ name, help, registers, collect() { this.reset(); const figures = read(); if (figures !== undefined) this.inc(pick(figures.counters)); } });
    counted('sluice_share_acknowledged_total', 'Records share consumers accepted', (counters) => counters.acknowledged);
    counted('sluice_share_redeliveries_total', 'Deliveries of a record after its first (delivery count above 1)', (counters) => counters.redelivered);
    counted('sluice_share_skipped_total', 'Records retention removed before their share group finished them', (counters) => counters.skipped);
    counted('sluice_share_dead_letters_dropped_total', 'Dead records dropped because their group has no share.dlq.topic', (counters) => counters.dropped);
    new client.Counter({
      name: 'sluice_share_dead_letters_total', help: 'Records dead-lettered (to the DLQ, or dropped without one), by reason', labelNames: ['reason'], registers,
      collect() {
        this.reset();
        const counters = read()?.counters;
        if (counters === undefined) return;
        this.inc({ reason: 'rejected' }, counters.rejected);
        this.inc({ reason: 'delivery_limit' }, counters.deliveryLimit);
        this.inc({ reason: 'expired' }, counters.expired);
      },
    });
  }

  /** Descriptors, mappings, segments and partitions by state (see topics/resources.ts). */
  watchResources(read: () => BrokerResources): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, value: (resources: BrokerResources) => number | undefined) =>
      new client.Gauge({ name, help, registers, collect() { const found = value(read()); if (found !== undefined) this.set(found); } });
    gauge('sluice_open_descriptors', 'Descriptors the broker process holds (segments hold none between calls)', (resources) => resources.openDescriptors);
    gauge('sluice_mappings', 'Live memory mappings of segment and index files', (resources) => resources.mappings);
    gauge('sluice_mapped_bytes', 'Address space those mappings reserve', (resources) => resources.mappedBytes);
    gauge('sluice_segments', 'Segments of all open partitions', (resources) => resources.segments);
    gauge('sluice_segment_cache_size', 'Sealed segments kept mapped at most (--segment-cache-size)', (resources) => resources.segmentCache.capacity);
    gauge('sluice_segments_cached', 'Sealed segments whose files are mapped now', (resources) => resources.segmentCache.cached);
    // Counters that the cache keeps: each scrape adds what happened since the last one.
    const counter = (name: string, help: string, value: (resources: BrokerResources) => number) => {
      let counted = 0;
      new client.Counter({ name, help, registers, collect() { const now = value(read()); this.inc(now - counted); counted = now; } });
    };
    counter('sluice_segment_cache_hits_total', 'Uses of a sealed segment that found it mapped', (resources) => resources.segmentCache.hits);
    counter('sluice_segment_cache_misses_total', 'Uses of a sealed segment that had to map it (first read, or read after an eviction)', (resources) => resources.segmentCache.misses);
    counter('sluice_segments_evicted_total', 'Sealed segments unmapped as the least recently used', (resources) => resources.segmentCache.evictions);
    gauge('sluice_partition_budget', 'Partitions this broker may hold (--max-partitions)', (resources) => resources.partitions.budget);
    new client.Gauge({
      name: 'sluice_partitions', help: 'Partitions on this broker by state (open, unopened since the start, offline after a failed sync, creating)', labelNames: ['state'], registers,
      collect() {
        const { open, unopened, offline, creating } = read().partitions;
        this.set({ state: 'open' }, open);
        this.set({ state: 'unopened' }, unopened);
        this.set({ state: 'offline' }, offline);
        this.set({ state: 'creating' }, creating);
      },
    });
  }

  /** Bytes of requests held against queued.max.request.bytes, and connections waiting for some, at scrape time. */
  watchRequestMemory(memory: RequestMemory): void {
    const registers = [this.registry];
    new client.Gauge({ name: 'sluice_request_memory_bytes', help: 'Request bytes being received or awaiting their response, of queued.max.request.bytes', registers, collect() { this.set(memory.used); } });
    new client.Gauge({ name: 'sluice_request_memory_waiting_connections', help: 'Connections not reading because their next request does not fit in the request memory', registers, collect() { this.set(memory.waiting); } });
  }

  connectionRefused(): void {
    this.#connectionsRefused.inc();
  }

  slowFrameClosed(): void {
    this.#slowFrames.inc();
  }

  observeRequest(api: string, seconds: number): void {
    this.#latency.observe({ api }, seconds);
  }

  connectionOpened(): void {
    this.#connections.inc();
  }

  connectionClosed(): void {
    this.#connections.dec();
  }
}
