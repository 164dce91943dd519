/**
 * The etcd client the cluster layer uses, configured so that a missing etcd shows at once
 * (REPLICATION-FACTS.md §Q): every unary call has a short deadline, etcd3's default retry and
 * its 5 s per-host circuit breaker are replaced (they stall calls and hide the error), and a
 * failed call is retried only on the other members, immediately, so one dead member of three
 * costs nothing. Streams (watch, lease keepalive) reconnect on their own with a short backoff.
 */
import { ConstantBackoff, ExponentialBackoff, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import { SluiceError } from '../../proto/errors.js';

/** Accepts `host:port`, `http://host:port` and `etcd://host:port`. */
export function etcdHost(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed.startsWith('http://') || trimmed.startsWith('https://')) return trimmed;
  return `http://${trimmed.replace(/^etcd:\/\//, '')}`;
}

export function createEtcdClient(endpoints: readonly string[], callTimeoutMs: number): Etcd3 {
  if (endpoints.length === 0) throw new SluiceError('SLUICE_ERR_CONFIG', 'the cluster needs at least one etcd endpoint (--cluster etcd://HOST:PORT)');
  const hosts = endpoints.map(etcdHost);
  return new Etcd3({
    hosts,
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      host: () => noop,
      global: hosts.length > 1
        ? retry(handleWhen(isRecoverableError), { maxAttempts: hosts.length - 1, backoff: new ConstantBackoff(0) })
        : noop,
      // etcd3 declares an IBackoff but uses it as a factory; a first step of the factory is both.
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }).next(),
    },
  });
}
