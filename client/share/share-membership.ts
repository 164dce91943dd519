/**
 * A share consumer's membership of its group: joins with ShareHeartbeat (an empty member id
 * asks the coordinator for one), sends heartbeats on the interval the coordinator gives, and
 * joins again when the coordinator no longer knows the member (UNKNOWN_MEMBER_ID: its session
 * expired and every record it held was released). Each join starts a new `generation`, so
 * records acquired under an earlier one are known to be lost. There is no assignment: every
 * member fetches every partition of its topics.
 */
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import { WakeableSleep } from '../groups/wakeable-sleep.js';
import type { ClientLogger } from '../logger.js';

export interface ShareMembershipOptions {
  groupId: string;
  topics: string[];
  maxInFlight: number;
  sessionTimeoutMs: number;
  /** A new member id was given (after a first join or a rejoin). */
  onJoined: (generation: number) => void;
  /** An error no retry can fix (INCONSISTENT_GROUP_PROTOCOL: the id is a classic group's). */
  onError: (error: unknown) => void;
}

export class ShareMembership {
  readonly #coordinator: GroupCoordinator;
  readonly #options: ShareMembershipOptions;
  readonly #logger: ClientLogger;
  #memberId = '';
  #generation = 0;
  #intervalMs = 1000;
  #stopped = false;
  #loop: Promise<void> | undefined;
  readonly #pause = new WakeableSleep();
  readonly #joinWaiters = new Set<() => void>();
  readonly #abort = new AbortController();

  constructor(coordinator: GroupCoordinator, options: ShareMembershipOptions, logger: ClientLogger) {
    this.#coordinator = coordinator;
    this.#options = options;
    this.#logger = logger;
  }

  /** '' while not joined. */
  get memberId(): string {
    return this.#memberId;
  }

  get generation(): number {
    return this.#generation;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Resolves once the member has an id, the membership stopped, or `signal` is aborted. */
  joined(signal: AbortSignal): Promise<void> {
    if (this.#memberId !== '' || this.#stopped || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#joinWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#joinWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The coordinator forgot `generation`'s member (a fetch or ack said so): join again. */
  lost(generation: number): void {
    if (generation !== this.#generation || this.#memberId === '') return;
    this.#logger.warn({ groupId: this.#options.groupId, memberId: this.#memberId }, 'the share group\'s coordinator no longer knows this member (its session expired); its records were released; joining again');
    this.#memberId = '';
    this.#pause.wake();
  }

  async #run(): Promise<void> {
    let backoffMs = 100;
    while (!this.#stopped) {
      try {
        await this.#beat();
        backoffMs = 100;
        await this.#pause.sleep(this.#intervalMs);
      } catch (error) {
        if (this.#stopped) return;
        const code = SluiceError.is(error) ? error.code : undefined;
        if (code === 'SLUICE_ERR_UNKNOWN_MEMBER_ID') {
          this.lost(this.#generation);
        } else if (SluiceError.is(error) && (error.retriable || code === 'SLUICE_ERR_TIMEOUT')) {
          await this.#pause.sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 2000);
        } else {
          this.#halt();
          this.#options.onError(error);
          return;
        }
      }
    }
  }

  async #beat(): Promise<void> {
    const joining = this.#memberId === '';
    const answer = await this.#request(false);
    if (this.#stopped) return;
    this.#intervalMs = answer.heartbeatIntervalMs > 0 ? answer.heartbeatIntervalMs : this.#intervalMs;
    if (!joining) return;
    this.#memberId = answer.memberId;
    this.#generation += 1;
    this.#options.onJoined(this.#generation);
    for (const waiter of [...this.#joinWaiters]) waiter();
  }

  async #request(leave: boolean, signal: AbortSignal = this.#abort.signal) {
    const { groupId, topics, maxInFlight, sessionTimeoutMs } = this.#options;
    return this.#coordinator.call(async (connection, request) => {
      const answer = await connection.request<'shareHeartbeat'>(Api.SHARE_HEARTBEAT, {
        groupId, memberId: this.#memberId, topics, leave, maxInFlight, sessionTimeoutMs,
      }, { ...request, signal });
      if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage);
      return answer;
    }, signal);
  }

  /** Stops joining and heartbeating; whoever waits for a member id is let go. */
  #halt(): void {
    this.#stopped = true;
    this.#abort.abort();
    this.#pause.wake();
    for (const waiter of [...this.#joinWaiters]) waiter();
  }

  /** Stops heartbeating and leaves: the coordinator releases every record the member still holds. */
  async leave(): Promise<void> {
    this.#halt();
    await this.#loop?.catch(() => {});
    if (this.#memberId === '') return;
    // A courtesy (the session would expire anyway): a missing coordinator must not hold close() up.
    await this.#request(true, AbortSignal.timeout(3000)).catch(() => {});
    this.#memberId = '';
  }
}
