/**
 * offsets.retention.minutes: a group nobody has been in for the retention period is
 * forgotten together with its committed offsets, as Kafka does, so groups made once (a test
 * run, a `sluice consume --group` by hand) do not pile up forever. A group the coordinator
 * knows counts from when it became Empty; one known only by its commits (after a restart, or
 * from standalone commits) from its newest commit. Checked on an unref'd timer, per
 * `__consumer_offsets` partition this broker leads.
 */
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import type { GroupCoordinator } from './coordinator.js';
import { checkTimerSetting } from './group-timeouts.js';
import type { OffsetStore } from './offset-store.js';

/** Kafka's offsets.retention.minutes default: 7 days. */
export const offsetsRetentionMsDefault = 10080 * 60 * 1000;
/** Kafka's offsets.retention.check.interval.ms default: 10 minutes. */
export const offsetsRetentionCheckIntervalMsDefault = 10 * 60 * 1000;

export interface GroupExpiryOptions {
  retentionMs: number;
  checkIntervalMs: number;
  logger: Logger;
}

export class GroupExpiry {
  readonly #coordinator: GroupCoordinator;
  readonly #offsets: () => OffsetStore | undefined;
  readonly #retentionMs: number;
  readonly #checkIntervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(coordinator: GroupCoordinator, offsets: () => OffsetStore | undefined, options: GroupExpiryOptions) {
    if (!Number.isSafeInteger(options.retentionMs) || options.retentionMs < 1) {
      throw new SluiceError('SLUICE_ERR_CONFIG', `offsets.retention.ms must be a positive integer number of milliseconds, got ${options.retentionMs}`);
    }
    this.#coordinator = coordinator;
    this.#offsets = offsets;
    this.#retentionMs = options.retentionMs;
    this.#checkIntervalMs = checkTimerSetting('offsets.retention.check.interval.ms', options.checkIntervalMs);
    this.#logger = options.logger;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.expire().catch((error: unknown) => this.#logger.error({ err: error }, 'expiring groups failed'));
    }, this.#checkIntervalMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Forgets every group idle for longer than the retention at `now`, among the groups this
   * broker coordinates (those of the `__consumer_offsets` partitions it leads and has loaded);
   * resolves to their ids once their tombstones are committed. A group whose tombstones could
   * not be written is logged and left for the next check, which finds its offsets still there.
   */
  async expire(now = Date.now()): Promise<string[]> {
    const offsets = this.#offsets();
    const candidates = new Set([...this.#coordinator.groups().map((group) => group.groupId), ...(offsets?.groups() ?? [])]);
    const expired: string[] = [];
    for (const groupId of candidates) {
      if (offsets !== undefined && !offsets.coordinates(groupId)) continue;
      const live = this.#coordinator.describe(groupId);
      if (live !== undefined && live.state !== 'Empty') continue;
      const idleSince = Math.max(this.#coordinator.emptySince(groupId) ?? -Infinity, offsets?.newestCommit(groupId) ?? -Infinity);
      if (now - idleSince < this.#retentionMs || !this.#coordinator.expire(groupId)) continue;
      let deleted = 0;
      try {
        deleted = await offsets?.deleteGroup(groupId) ?? 0;
      } catch (error) {
        this.#logger.warn({ err: error, group: groupId }, 'could not write the tombstones of an expired group\'s offsets; trying again at the next check');
        continue;
      }
      this.#logger.info({ group: groupId, idleSince: new Date(idleSince).toISOString(), offsetsDeleted: deleted }, 'expired idle group with its committed offsets');
      expired.push(groupId);
    }
    return expired;
  }
}
