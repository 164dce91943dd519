/**
 * `sluice dev-cluster`: a whole cluster on this machine in one command, for trying replication
 * and failover: an etcd from PATH and N brokers (node ids 1..N) as child processes in the
 * foreground, their bootstrap list printed, everything stopped on Ctrl-C (the brokers first,
 * each handing its leaderships away, then etcd). Ports: brokers at BASE, BASE+1, …; their
 * admin HTTP at BASE+100+i; etcd at BASE+200 (client) and BASE+201 (peer); their Kafka
 * listeners at KAFKA_BASE+i (9092, 9093, … by default, where Kafka clients look first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { BrokerProcess } from '../bench/broker-process.js';
import { wholeNumber, withExamples } from './options.js';

interface DevClusterFlags {
  brokers: number;
  data?: string;
  basePort: number;
  kafkaBasePort: number;
  sessionTimeoutMs: number;
}

export function devClusterCommand(program: Command): void {
  const command = program.command('dev-cluster')
    .description('run etcd and N brokers on this machine in the foreground; Ctrl-C stops them all')
    .option('--brokers <n>', 'how many brokers', wholeNumber(1), 3)
    .option('--data <dir>', 'keep etcd\'s and the brokers\' data here across runs (default: a temporary directory removed at exit)')
    .option('--base-port <port>', 'first broker port; HTTP at +100, etcd at +200 and +201', wholeNumber(1), 9400)
    .option('--kafka-base-port <port>', 'first broker\'s Kafka listener; the others follow', wholeNumber(1), 9092)
    .option('--session-timeout-ms <n>', 'broker.session.timeout.ms: how soon a dead broker loses its leaderships', wholeNumber(1000), 6000)
    .action(async (flags: DevClusterFlags) => {
      const temporary = flags.data === undefined;
      const root = flags.data === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-dev-cluster-')) : path.resolve(flags.data);
      fs.mkdirSync(root, { recursive: true });
      const [{ launchBroker }, { startEtcd }] = await Promise.all([import('../bench/broker-process.js'), import('../bench/etcd-process.js')]);
      const etcd = await startEtcd({ dataDirectory: path.join(root, 'etcd'), ports: [{ client: flags.basePort + 200, peer: flags.basePort + 201 }] });
      const brokers: BrokerProcess[] = [];
      let stopping: Promise<void> | undefined;
      const stopAll = () => {
        stopping ??= (async () => {
          process.stderr.write('stopping the brokers (each hands its leaderships away first), then etcd ...\n');
          await Promise.all(brokers.map((broker) => broker.stop('SIGTERM')));
          await etcd.stop();
          if (temporary) fs.rmSync(root, { recursive: true, force: true });
        })();
        return stopping;
      };
      process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
      process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));
      try {
        const cluster = `etcd://${etcd.endpoints.map((url) => url.replace(/^http:\/\//, '')).join(',')}`;
        for (let nodeId = 1; nodeId <= flags.brokers; nodeId += 1) {
          brokers.push(await launchBroker(path.join(root, `broker-${nodeId}`), {
            port: flags.basePort + nodeId - 1,
            kafkaPort: flags.kafkaBasePort + nodeId - 1,
            args: [
              '--node-id', String(nodeId), '--cluster', cluster, '--http-listen', `127.0.0.1:${flags.basePort + 100 + nodeId - 1}`,
              '--broker-session-timeout-ms', String(flags.sessionTimeoutMs), '--default-replication-factor', String(Math.min(3, flags.brokers)),
              '--offsets-topic-replication-factor', String(Math.min(3, flags.brokers)),
            ],
            readyTimeoutMs: 30_000,
          }));
          process.stderr.write(`broker ${nodeId}: 127.0.0.1:${flags.basePort + nodeId - 1} (kafka ${flags.kafkaBasePort + nodeId - 1}, http ${flags.basePort + 100 + nodeId - 1}), pid ${brokers.at(-1)!.child.pid}, data ${path.join(root, `broker-${nodeId}`)}\n`);
        }
        process.stderr.write(`etcd: ${etcd.endpoints.join(', ')}, pid ${etcd.members.map((member) => member.pid).join(', ')}\n`);
        process.stdout.write(`${brokers.map((broker) => broker.bootstrap).join(',')}\n`);
        process.stderr.write(`Kafka clients: ${brokers.map((broker) => broker.kafkaBootstrap).join(',')}\n`);
        process.stderr.write('try: sluice topics create demo --partitions 3 --replication-factor 3 --bootstrap <the list above>\nCtrl-C stops the cluster.\n');
        for (const broker of brokers) {
          void broker.exited.then(({ code, signal }) => {
            if (stopping === undefined) process.stderr.write(`broker at ${broker.bootstrap} exited (${code ?? signal}); its last log lines:\n${broker.logs.slice(-5).join('\n')}\n`);
          });
        }
      } catch (error) {
        await stopAll();
        throw error;
      }
    });
  withExamples(command, 'sluice dev-cluster --brokers 3', 'sluice dev-cluster --brokers 5 --data ./cluster --base-port 19400 --kafka-base-port 19092');
}
