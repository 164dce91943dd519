/**
 * The entry point of the client library, shaped like KafkaJS:
 *
 *   const sluice = new Sluice({ bootstrap: '127.0.0.1:9400' });
 *   const producer = sluice.producer({ acks: 'all' });
 *   await producer.send({ topic: 'orders', messages: [{ key: 'k', value: 'v' }] });
 *
 * Producers, consumers and the admin share nothing but the bootstrap address: each opens its
 * own connection, so a consumer's long polls never delay a producer's requests.
 */
import { Admin } from './admin.js';
import { BrokerConnection, type ConnectionOptions } from './connection.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { SluiceError } from '../proto/errors.js';
import { MetadataCache } from './metadata.js';
import { Producer, type ProducerOptions } from './producer.js';

export interface SluiceOptions {
  /** HOST:PORT of a broker; default 127.0.0.1:9400. */
  bootstrap?: string;
  clientId?: string;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export function parseBootstrap(bootstrap: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(bootstrap);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    throw new SluiceError('SLUICE_ERR_CONFIG', `bootstrap must be HOST:PORT, got "${bootstrap}"`);
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export class Sluice {
  readonly #connectionOptions: ConnectionOptions;
  readonly #connections: BrokerConnection[] = [];
  readonly #closers: Array<() => Promise<void>> = [];

  constructor(options: SluiceOptions = {}) {
    const { host, port } = parseBootstrap(options.bootstrap ?? '127.0.0.1:9400');
    this.#connectionOptions = {
      host, port,
      clientId: options.clientId ?? 'sluice-client',
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    };
  }

  #connection(): BrokerConnection {
    const connection = new BrokerConnection(this.#connectionOptions);
    this.#connections.push(connection);
    return connection;
  }

  producer(options: ProducerOptions = {}): Producer {
    const connection = this.#connection();
    const producer = new Producer(connection, new MetadataCache(connection), options);
    this.#closers.push(() => producer.close());
    return producer;
  }

  consumer(options: ConsumerOptions = {}): Consumer {
    const consumer = new Consumer(this.#connection(), options);
    this.#closers.push(() => consumer.close());
    return consumer;
  }

  admin(): Admin {
    return new Admin(this.#connection());
  }

  /** Flushes producers, stops consumers, and closes every connection. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#closers.map((close) => close()));
    for (const connection of this.#connections) connection.close();
  }
}
