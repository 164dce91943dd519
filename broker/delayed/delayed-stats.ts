/**
 * What delayed delivery reports on /metrics: the timer backlog (records held in memory and on
 * disk only), records fired, firing lateness (broker append time − due time), early firings
 * (an append before the due time; must stay 0) and records dropped because their target
 * partition no longer exists here.
 */
import client from 'prom-client';

export interface Backlog {
  inMemory: number;
  onDisk: number;
  indexBytes: number;
}

export class DelayedStats {
  fired = 0;
  early = 0;
  dropped = 0;
  readonly #lateness: client.Histogram | undefined;

  constructor(registry: client.Registry | undefined, backlog: () => Backlog) {
    if (registry === undefined) return;
    const registers = [registry];
    this.#lateness = new client.Histogram({
      name: 'sluice_delayed_lateness_seconds', help: 'Time from a delayed record\'s due time to its append to the target partition', registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
    });
    const read = (what: keyof Backlog | 'fired' | 'early' | 'dropped'): number => {
      if (what === 'fired' || what === 'early' || what === 'dropped') return this[what];
      return backlog()[what];
    };
    const gauge = (name: string, help: string, what: Parameters<typeof read>[0]) => new client.Gauge({
      name, help, registers, collect() {
        this.set(read(what));
      },
    });
    gauge('sluice_delayed_backlog_in_memory', 'Delayed records due within the loaded window, indexed in memory', 'inMemory');
    gauge('sluice_delayed_backlog_on_disk', 'Delayed records due after the loaded window, kept only in the timer log', 'onDisk');
    gauge('sluice_delayed_index_bytes', 'Bytes of the in-memory timer index', 'indexBytes');
    gauge('sluice_delayed_fired_total', 'Delayed records appended to their target partition', 'fired');
    gauge('sluice_delayed_early_total', 'Delayed records appended before their due time (must stay 0)', 'early');
    gauge('sluice_delayed_dropped_total', 'Delayed records whose target partition was gone when they fell due', 'dropped');
  }

  /** Records appended at `appendTime`, with their due times. */
  recordFired(dues: readonly number[], appendTime: number): void {
    this.fired += dues.length;
    for (const due of dues) {
      if (appendTime < due) this.early += 1;
      this.#lateness?.observe((appendTime - due) / 1000);
    }
  }
}
