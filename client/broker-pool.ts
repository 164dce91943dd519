/**
 * The connections of one client object: one per broker, opened on first use and retired when
 * the broker leaves the cluster's metadata. Requests that any broker can answer (Metadata,
 * FindCoordinator) go to the first reachable one: the broker that answered last, then the
 * other known brokers, then the bootstrap list, so a client starts while some of its bootstrap
 * brokers are down.
 */
import { BrokerConnection, type ConnectionOptions } from './connection.js';
import { SluiceError } from '../proto/errors.js';
import type { BrokerInfo } from '../proto/messages.js';

export interface BrokerAddress {
  host: string;
  port: number;
}

/** One HOST:PORT. */
export function parseAddress(text: string): BrokerAddress {
  const match = /^(.+):(\d+)$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `bootstrap must be HOST:PORT[,HOST:PORT...], got "${text}"`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** "h1:p1,h2:p2" or a list of HOST:PORT (each entry may itself be a comma list). */
export function parseBootstrapList(bootstrap: string | readonly string[]): BrokerAddress[] {
  const entries = (typeof bootstrap === 'string' ? [bootstrap] : bootstrap).flatMap((entry) => entry.split(',')).filter((entry) => entry.trim() !== '');
  if (entries.length === 0) throw new SluiceError('SLUICE_ERR_CONFIG', 'bootstrap needs at least one HOST:PORT');
  return entries.map(parseAddress);
}

const addressKey = (address: BrokerAddress) => `${address.host}:${address.port}`;
/** An advertised wildcard cannot be dialled as such: reach that broker where its metadata came from. */
const wildcards = new Set(['', '0.0.0.0', '::', '[::]']);

export type PoolConnectionOptions = Omit<ConnectionOptions, 'host' | 'port'>;

export class BrokerPool {
  readonly #bootstrap: BrokerAddress[];
  readonly #options: PoolConnectionOptions;
  readonly #connections = new Map<string, BrokerConnection>();
  #nodes = new Map<number, BrokerAddress>();
  #lastGood: string | undefined;
  #closed = false;

  constructor(bootstrap: BrokerAddress[], options: PoolConnectionOptions = {}) {
    if (bootstrap.length === 0) throw new SluiceError('SLUICE_ERR_CONFIG', 'bootstrap needs at least one HOST:PORT');
    this.#bootstrap = bootstrap;
    this.#options = options;
  }

  get connectionOptions(): Required<PoolConnectionOptions> {
    return new BrokerConnection({ host: '', port: 0, ...this.#options }).options;
  }

  /** The node ids the last metadata listed. */
  nodeIds(): number[] {
    return [...this.#nodes.keys()];
  }

  address(nodeId: number): BrokerAddress | undefined {
    return this.#nodes.get(nodeId);
  }

  /** Takes the broker list of a Metadata answer; connections of brokers no longer listed are retired. */
  setBrokers(brokers: readonly BrokerInfo[], answeredBy: BrokerAddress): void {
    const nodes = new Map<number, BrokerAddress>();
    for (const broker of brokers) nodes.set(broker.nodeId, { host: wildcards.has(broker.host) ? answeredBy.host : broker.host, port: broker.port });
    this.#nodes = nodes;
    const listed = new Set([...nodes.values()].map(addressKey));
    for (const [key, connection] of this.#connections) {
      if (listed.has(key)) continue;
      this.#connections.delete(key);
      connection.retire();
    }
  }

  /** The connection to a broker of the last metadata, or undefined when it is not listed. */
  node(nodeId: number): BrokerConnection | undefined {
    const address = this.#nodes.get(nodeId);
    return address === undefined ? undefined : this.at(address);
  }

  /** The connection to an address (opened on first request). */
  at(address: BrokerAddress): BrokerConnection {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_ABORTED', 'the client was closed');
    const key = addressKey(address);
    let connection = this.#connections.get(key);
    if (connection === undefined) {
      connection = new BrokerConnection({ ...this.#options, host: address.host, port: address.port });
      this.#connections.set(key, connection);
    }
    return connection;
  }

  /**
   * Runs `work` against the first broker that answers: the last one that did, the brokers of
   * the last metadata, then the bootstrap list, round after round until connectTimeoutMs has
   * passed. With several candidates each connection attempt is short, so a dead broker costs
   * little. A broker that cannot be reached (or drops the connection) is skipped; any other
   * error ends the search. `avoidNodeId` goes last: a leader that just failed a request may be
   * cut off from its cluster, and its own metadata would still name it leader.
   */
  async any<T>(work: (connection: BrokerConnection, request: { connectTimeoutMs: number }) => Promise<T>, signal?: AbortSignal, avoidNodeId?: number): Promise<T> {
    const candidates = new Map<string, BrokerAddress>();
    const known = [...this.#nodes.values(), ...this.#bootstrap];
    const last = known.find((address) => addressKey(address) === this.#lastGood);
    const avoided = avoidNodeId === undefined ? undefined : this.#nodes.get(avoidNodeId);
    const ordered = [...(last === undefined ? [] : [last]), ...known].filter((address) => avoided === undefined || addressKey(address) !== addressKey(avoided));
    for (const address of [...ordered, ...(avoided === undefined ? [] : [avoided])]) candidates.set(addressKey(address), address);
    const { connectTimeoutMs } = this.connectionOptions;
    const attemptMs = candidates.size === 1 ? connectTimeoutMs : Math.min(connectTimeoutMs, 1000);
    const deadline = Date.now() + connectTimeoutMs;
    let lastError: unknown;
    do {
      for (const address of candidates.values()) {
        signal?.throwIfAborted();
        try {
          const result = await work(this.at(address), { connectTimeoutMs: attemptMs });
          this.#lastGood = addressKey(address);
          return result;
        } catch (error) {
          if (!SluiceError.is(error) || (error.code !== 'SLUICE_ERR_CONNECTION' && error.code !== 'SLUICE_ERR_TIMEOUT')) throw error;
          lastError = error;
        }
      }
    } while (Date.now() < deadline && !this.#closed);
    const tried = [...candidates.keys()].join(', ');
    throw new SluiceError('SLUICE_ERR_CONNECTION', `no broker answered (tried ${tried}): ${SluiceError.is(lastError) ? lastError.detail : String(lastError)}`, { cause: lastError });
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
  }
}
