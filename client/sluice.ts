/**
 * The entry point of the client library, shaped like KafkaJS:
 *
 *   const sluice = new Sluice({ bootstrap: '127.0.0.1:9400,127.0.0.1:9401' });
 *   const producer = sluice.producer({ acks: 'all' });
 *   await producer.send({ topic: 'orders', messages: [{ key: 'k', value: 'v' }] });
 *
 * The bootstrap list only has to hold one reachable broker: the cluster's metadata names the
 * others. Producers, consumers and the admin share nothing but the bootstrap list: each has
 * its own metadata and its own connection per broker, so a consumer's long polls never delay
 * a producer's requests.
 */
import { Admin } from './admin.js';
import { type BrokerAddress, BrokerPool, parseAddress, parseBootstrapList } from './broker-pool.js';
import type { ConnectionOptions } from './connection.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { type ClientLogger, defaultLogger } from './logger.js';
import { MetadataCache } from './metadata.js';
import { Producer, type ProducerOptions } from './producer.js';
import { ShareConsumer, type ShareConsumerOptions } from './share-consumer.js';

export interface SluiceOptions {
  /** HOST:PORT of one or more brokers: "h1:p1,h2:p2" or a list; default 127.0.0.1:9400. */
  bootstrap?: string | string[];
  clientId?: string;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Least time between two metadata refreshes (default 100 ms). */
  metadataRefreshBackoffMs?: number;
  /** A pino-compatible logger; default: warnings as JSON lines on stderr. */
  logger?: ClientLogger;
}

/** One HOST:PORT (the first of a list). */
export function parseBootstrap(bootstrap: string): BrokerAddress {
  return parseAddress(bootstrap.split(',')[0] ?? bootstrap);
}

export { parseBootstrapList };

export class Sluice {
  readonly #bootstrap: BrokerAddress[];
  readonly #connectionOptions: Omit<ConnectionOptions, 'host' | 'port'>;
  readonly #refreshBackoffMs: number | undefined;
  readonly #logger: ClientLogger | undefined;
  readonly #pools: BrokerPool[] = [];
  readonly #closers: Array<() => Promise<void>> = [];

  constructor(options: SluiceOptions = {}) {
    this.#bootstrap = parseBootstrapList(options.bootstrap ?? '127.0.0.1:9400');
    this.#connectionOptions = {
      clientId: options.clientId ?? 'sluice-client',
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    };
    this.#refreshBackoffMs = options.metadataRefreshBackoffMs;
    this.#logger = options.logger;
  }

  /** The brokers this client starts from. */
  get bootstrap(): readonly BrokerAddress[] {
    return this.#bootstrap;
  }

  #metadata(): MetadataCache {
    const pool = new BrokerPool(this.#bootstrap, this.#connectionOptions);
    this.#pools.push(pool);
    return new MetadataCache(pool, this.#refreshBackoffMs === undefined ? {} : { refreshBackoffMs: this.#refreshBackoffMs });
  }

  producer(options: ProducerOptions = {}): Producer {
    const producer = new Producer(this.#metadata(), options, this.#logger);
    this.#closers.push(() => producer.close());
    return producer;
  }

  /** A classic consumer, or with `share: true` a share-group member (queues on the log). */
  consumer(options: ShareConsumerOptions): ShareConsumer;
  consumer(options?: ConsumerOptions): Consumer;
  consumer(options: ConsumerOptions | ShareConsumerOptions = {}): Consumer | ShareConsumer {
    const consumer = 'share' in options && options.share === true
      ? new ShareConsumer(this.#metadata(), options, this.#logger ?? defaultLogger())
      : new Consumer(this.#metadata(), options as ConsumerOptions, this.#logger ?? defaultLogger());
    this.#closers.push(() => consumer.close());
    return consumer;
  }

  admin(): Admin {
    return new Admin(this.#metadata());
  }

  /** Flushes producers, stops consumers, and closes every connection. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#closers.map((close) => close()));
    for (const pool of this.#pools) pool.close();
  }
}
