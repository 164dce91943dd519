/**
 * Unmodified Kafka clients for the Kafka listener's tests: kcat (librdkafka, Debian's `kcat`)
 * run as a process, and KafkaJS (npm, dev dependency) with its logs kept for the test to show.
 */
import { spawn } from 'node:child_process';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';

export interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kcat against `bootstrap` with `args`, feeding `input` on stdin; killed after `timeoutMs`. */
export function kcat(bootstrap: string, args: readonly string[], input?: string | Buffer, timeoutMs = 60_000): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', bootstrap, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    });
    child.stdin.end(input ?? '');
  });
}

/** Fails with kcat's own words when it did not exit 0. */
export function expectKcatOk(result: KcatResult, what: string): string {
  if (result.code !== 0) throw new Error(`kcat ${what} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** A KafkaJS client for the listener (`bootstrap`: HOST:PORT[,HOST:PORT...]); its warnings and errors are collected instead of printed. */
export function kafkajs(bootstrap: string, options: Partial<KafkaConfig> = {}): { kafka: Kafka; logs: string[] } {
  const logs: string[] = [];
  const kafka = new Kafka({
    clientId: 'sluice-test',
    brokers: bootstrap.split(','),
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      if (level <= logLevel.WARN) logs.push(`${logLevel[level]} ${namespace}: ${log.message} ${JSON.stringify(log)}`);
    },
    retry: { retries: 5, initialRetryTime: 100 },
    ...options,
  });
  return { kafka, logs };
}
