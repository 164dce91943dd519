/**
 * The connection to a group's coordinator, found with FindCoordinator (any broker answers)
 * and remembered. When the coordinator moves (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, or
 * its connection is lost) the request is sent again to the coordinator found anew, with a
 * back-off, until `retryForMs` has passed.
 */
import type { BrokerConnection, RequestOptions } from '../connection.js';
import { leaderConnectTimeoutMs, type MetadataCache } from '../metadata.js';
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api, type ApiKey, type RequestBodies, type ResponseBodies } from '../../proto/messages.js';

const movedCodes: ReadonlySet<string> = new Set([
  'SLUICE_ERR_NOT_COORDINATOR', 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', 'SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS', 'SLUICE_ERR_CONNECTION', 'SLUICE_ERR_BROKER_SHUTTING_DOWN',
]);

export interface CoordinatorOptions {
  /** How long a request keeps looking for the coordinator (default 30 s). */
  retryForMs?: number;
  retryBackoffMs?: number;
  /** FindCoordinator's key type: 0 a group (default), 1 a transactional id. */
  keyType?: 0 | 1;
}

export class GroupCoordinator {
  readonly #metadata: MetadataCache;
  readonly #groupId: string;
  readonly #retryForMs: number;
  readonly #retryBackoffMs: number;
  readonly #keyType: 0 | 1;
  #connection: BrokerConnection | undefined;
  #nodeId = -1;
  #finding: Promise<BrokerConnection> | undefined;

  constructor(metadata: MetadataCache, groupId: string, options: CoordinatorOptions = {}) {
    this.#metadata = metadata;
    this.#groupId = groupId;
    this.#retryForMs = options.retryForMs ?? 30_000;
    this.#retryBackoffMs = options.retryBackoffMs ?? 100;
    this.#keyType = options.keyType ?? 0;
  }

  get groupId(): string {
    return this.#groupId;
  }

  /** The coordinator's node id as FindCoordinator last named it (-1 before). */
  get nodeId(): number {
    return this.#nodeId;
  }

  /** Finds the coordinator (once for concurrent callers). */
  find(signal?: AbortSignal): Promise<BrokerConnection> {
    if (this.#connection !== undefined && !this.#connection.closed) return Promise.resolve(this.#connection);
    this.#finding ??= this.#metadata.pool.any(async (connection, request) => {
      const answer = await connection.request<'findCoordinator'>(Api.FIND_COORDINATOR, { key: this.#groupId, keyType: this.#keyType }, { signal, connectTimeoutMs: request.connectTimeoutMs });
      if (answer.errorCode) throw errorFromWire(answer.errorCode, answer.errorMessage ?? '');
      const known = this.#metadata.pool.address(answer.nodeId);
      const sameAddress = known !== undefined && known.host === answer.host && known.port === answer.port;
      this.#nodeId = answer.nodeId;
      this.#connection = sameAddress ? this.#metadata.pool.node(answer.nodeId)! : this.#metadata.pool.at({ host: answer.host, port: answer.port });
      return this.#connection;
    }, signal).finally(() => { this.#finding = undefined; });
    return this.#finding;
  }

  /** Forgets the coordinator: the next request finds it again. */
  lost(): void {
    this.#connection = undefined;
  }

  /**
   * Runs `work` on the coordinator's connection; when the coordinator moved, finds it again
   * and runs it again. Other errors are thrown as they are.
   */
  async call<T>(work: (connection: BrokerConnection, request: { connectTimeoutMs: number }) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + this.#retryForMs;
    let backoffMs = this.#retryBackoffMs;
    for (;;) {
      try {
        const connection = await this.find(signal);
        // A coordinator that died is still named by FindCoordinator until its lease expires: one
        // short connect attempt, then find it again, rather than the connection's whole connect timeout.
        return await work(connection, { connectTimeoutMs: Math.min(connection.options.connectTimeoutMs, leaderConnectTimeoutMs) });
      } catch (error) {
        // A coordinator that stopped answering may have moved: look again next time, but a
        // slow request is not repeated here (the caller's own retry decides).
        if (SluiceError.is(error) && error.code === 'SLUICE_ERR_TIMEOUT') this.lost();
        if (!SluiceError.is(error) || !movedCodes.has(error.code) || Date.now() + backoffMs >= deadline || signal?.aborted) throw error;
        this.lost();
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 1000);
      }
    }
  }

  /** One request to the coordinator, following it when it moves. */
  request<F extends keyof RequestBodies>(api: ApiKey, body: RequestBodies[F], options: RequestOptions = {}): Promise<ResponseBodies[F]> {
    return this.call((connection, request) => connection.request<F>(api, body, { ...request, ...options }), options.signal);
  }
}
