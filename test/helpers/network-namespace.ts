/**
 * A private network namespace for fault tests (REPLICATION-FACTS.md §R): the processes a test
 * runs in it (`command` prefixes their command lines) get their own loopback, where every
 * 127.0.0.x address is theirs and iptables rules cut links between them without touching the
 * host's network. The namespace lives as long as a small holder process (`unshare --net`), so
 * nothing is left behind even when the test process dies.
 *
 * The test process itself stays outside: `expose(host)` gives it a port on the host's `host`
 * that leads to the same `host:port` inside (the holder accepts on a listening socket made
 * outside and passed to it, and dials inside), so clients use the addresses brokers advertise.
 * Those relayed connections come from 127.0.0.1 inside, so rules on other addresses never cut
 * the test's own view.
 */
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs in the namespace: brings loopback up, then relays each socket it is given to its target inside. */
const holderScript = `
const { execFileSync } = require('node:child_process');
const net = require('node:net');
try {
  execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'pipe' });
} catch (error) {
  process.send({ type: 'failed', message: 'ip link set lo up failed in the new namespace (is iproute2 installed?): ' + String(error.stderr || error.message) });
  process.exit(1);
}
process.on('message', (message, server) => {
  if (message === null || typeof message !== 'object' || message.type !== 'expose' || server === undefined) return;
  server.on('connection', (client) => {
    const upstream = net.connect({ host: message.host, port: message.port });
    const drop = () => { client.destroy(); upstream.destroy(); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  process.send({ type: 'exposed', host: message.host, port: message.port });
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
`;

interface HolderMessage {
  type: 'ready' | 'failed' | 'exposed';
  message?: string;
  host?: string;
  port?: number;
}

export interface NetworkNamespace {
  /** Prefix of a command line that runs it inside the namespace. */
  readonly command: string[];
  /** A port the test process reaches `host:port` inside through (the same port on the host's `host`). */
  expose(host: string): Promise<number>;
  /** Runs iptables inside the namespace; the error names what failed. */
  iptables(...args: string[]): Promise<void>;
  /** Runs a command inside the namespace and returns its standard output. */
  exec(program: string, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const namespaces = new Set<NetworkNamespace>();

/**
 * Makes the namespace, or fails with what is missing (root or CAP_SYS_ADMIN for `unshare
 * --net`, iproute2, nsenter, iptables): a fault test must not pass by doing nothing.
 */
export async function startNetworkNamespace(): Promise<NetworkNamespace> {
  const holder = spawn('unshare', ['--net', '--', process.execPath, '-e', holderScript], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  let failedToStart: Error | undefined;
  holder.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const messages: HolderMessage[] = [];
  const waiters = new Set<() => void>();
  holder.on('message', (message: HolderMessage) => {
    messages.push(message);
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise<void>((resolve) => {
    holder.once('exit', () => resolve());
    holder.once('error', (error) => {
      failedToStart = error;
      resolve();
    });
  });
  const next = async (type: HolderMessage['type'], what: string, timeoutMs = 10_000): Promise<HolderMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = messages.findIndex((message) => message.type === type || message.type === 'failed');
      if (index >= 0) {
        const [message] = messages.splice(index, 1);
        if (message!.type === 'failed') throw new Error(message!.message);
        return message!;
      }
      if (failedToStart !== undefined) throw new Error(`cannot make a network namespace: running unshare failed (${failedToStart.message}); install util-linux`);
      if (holder.exitCode !== null || holder.signalCode !== null) {
        throw new Error(`cannot make a network namespace: \`unshare --net\` exited (${holder.exitCode ?? holder.signalCode}) before ${what}; it needs root or CAP_SYS_ADMIN: ${stderr.trim()}`);
      }
      if (Date.now() > deadline) throw new Error(`the network namespace holder did not report ${what} within ${timeoutMs} ms: ${stderr.trim()}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 100);
        waiters.add(done);
        void exited.then(done);
      });
    }
  };
  await next('ready', 'that loopback is up');
  const command = ['nsenter', `--net=/proc/${holder.pid}/ns/net`, '--'];
  const exec = async (program: string, ...args: string[]): Promise<string> => {
    try {
      return (await run(command[0]!, [...command.slice(1), program, ...args], { timeout: 10_000 })).stdout;
    } catch (error) {
      const failure = error as { code?: string | number; stderr?: string; message: string };
      const missing = failure.code === 'ENOENT' || /No such file|not found/i.test(failure.stderr ?? '');
      throw new Error(`\`${program} ${args.join(' ')}\` failed in the test's network namespace${missing ? ` (is ${program} installed? apt-get install ${program === 'nsenter' ? 'util-linux' : program})` : ''}: ${(failure.stderr ?? failure.message).trim()}`);
    }
  };
  // Fail now, naming the tool, rather than half-way through a scenario.
  await exec('iptables', '-w', '-S', 'INPUT');

  const namespace: NetworkNamespace = {
    command,
    async expose(host) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const { port } = server.address() as net.AddressInfo;
      holder.send({ type: 'expose', host, port }, server);
      await next('exposed', `relaying ${host}:${port}`);
      // The holder has its own copy of the listening socket now; this one would take connections from it.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    },
    async iptables(...args) {
      await exec('iptables', '-w', ...args);
    },
    exec,
    async stop() {
      namespaces.delete(namespace);
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      await exited;
    },
  };
  namespaces.add(namespace);
  return namespace;
}

/** Stops every namespace's holder (after the processes inside were stopped, the namespace is gone). */
export async function cleanupNetworkNamespaces(): Promise<void> {
  await Promise.all([...namespaces].map((namespace) => namespace.stop()));
}
