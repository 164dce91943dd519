/**
 * `sluice bench produce|consume|e2e [flags]`, `sluice bench verify --acks-file F` and
 * `sluice bench compare A.json B.json`.
 * Load tests against a running broker (--bootstrap) or one started for the run (--embedded).
 * Flags left out take the --workload's value, then the defaults named in the help.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { BenchConfig, BenchResult } from '../bench/load/result.js';
import { workloads } from '../bench/load/workloads.js';
import { compressionTypes, isCompression } from '../proto/record-batch/compression-codec.js';
import { withExamples } from './options.js';

interface BenchFlags {
  bootstrap?: string;
  embedded?: boolean;
  workload?: string;
  topic?: string;
  partitions?: string;
  replicationFactor?: string;
  topicConfig?: string[];
  recordSize?: string;
  records?: string;
  duration?: string;
  rate?: string;
  producers?: string;
  consumers?: string;
  acks?: string;
  compression?: string;
  keys?: string;
  batchSize?: string;
  lingerMs?: string;
  warmup?: string;
  json?: string;
  report?: string;
  quiet?: boolean;
  verify?: boolean;
  acksFile?: string;
  /** Commander's --no-idempotence: false when given. */
  idempotence?: boolean;
  transactionalId?: string;
  recordsPerTxn?: string;
}

function number(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} takes a non-negative number, got "${text}"`);
  return value;
}

function topicConfigs(entries: string[]): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const entry of entries) {
    const separator = entry.indexOf('=');
    if (separator <= 0) throw new Error(`--topic-config takes key=value, got "${entry}"`);
    configs[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  return configs;
}

function recordsPerTxn(text: string | undefined): number {
  const value = number(text, '--records-per-txn') ?? 100;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--records-per-txn takes a whole number of records ≥ 1, got "${text}"`);
  return value;
}

function benchConfig(mode: BenchConfig['mode'], values: BenchFlags): BenchConfig {
  const preset = values.workload === undefined ? undefined : workloads[values.workload];
  if (values.workload !== undefined && preset === undefined) throw new Error(`unknown workload "${values.workload}"; known: ${Object.keys(workloads).join(', ')}`);
  const base = preset?.settings ?? {};
  // A transactional producer needs acks=all: that is its default here.
  const acksText = values.acks ?? String(base.acks ?? (values.transactionalId === undefined ? 1 : 'all'));
  const acks = acksText === 'all' || acksText === '-1' ? -1 : acksText === '0' ? 0 : acksText === '1' ? 1 : undefined;
  if (acks === undefined) throw new Error(`--acks takes 0, 1 or all, got "${acksText}"`);
  const compression = values.compression ?? base.compression ?? 'none';
  if (!isCompression(compression)) throw new Error(`--compression takes ${compressionTypes.join(', ')}, got "${compression}"`);
  const keys = values.keys ?? base.keys ?? 'none';
  if (keys !== 'none' && keys !== 'random' && !/^[1-9]\d*$/.test(keys)) throw new Error(`--keys takes none, random or a count of distinct keys, got "${keys}"`);
  const durationS = number(values.duration, '--duration') ?? base.durationS;
  const records = number(values.records, '--records') ?? (durationS === undefined ? base.records ?? 1_000_000 : undefined);
  const rate = number(values.rate, '--rate') ?? base.rate;
  return {
    mode: preset?.settings.mode ?? mode,
    ...(values.workload === undefined ? {} : { workload: values.workload }),
    bootstrap: values.bootstrap ?? '127.0.0.1:9400',
    embedded: values.embedded === true,
    topic: values.topic ?? 'sluice-bench',
    partitions: number(values.partitions, '--partitions') ?? base.partitions ?? 6,
    ...(values.replicationFactor === undefined ? {} : { replicationFactor: number(values.replicationFactor, '--replication-factor')! }),
    ...((values.topicConfig ?? []).length === 0 ? {} : { topicConfigs: topicConfigs(values.topicConfig!) }),
    recordBytes: Math.max(8, number(values.recordSize, '--record-size') ?? base.recordBytes ?? 100),
    ...(records === undefined ? {} : { records }),
    ...(durationS === undefined ? {} : { durationS }),
    ...(rate === undefined ? {} : { rate }),
    producers: Math.max(1, number(values.producers, '--producers') ?? base.producers ?? 1),
    consumers: Math.max(1, number(values.consumers, '--consumers') ?? base.consumers ?? 1),
    acks, compression, keys,
    batchSize: number(values.batchSize, '--batch-size') ?? base.batchSize ?? 16384,
    // A transaction waits for its records before it commits: lingering would only delay it.
    lingerMs: number(values.lingerMs, '--linger-ms') ?? base.lingerMs ?? (values.transactionalId === undefined ? 5 : 0),
    warmupS: number(values.warmup, '--warmup') ?? base.warmupS ?? 0,
    ...(values.verify === true ? { verify: true } : {}),
    ...(values.acksFile === undefined ? {} : { acksFile: values.acksFile }),
    ...(values.idempotence === false ? { idempotent: false } : {}),
    ...(values.transactionalId === undefined ? {} : { transactionalId: values.transactionalId, recordsPerTxn: recordsPerTxn(values.recordsPerTxn) }),
  };
}

async function summary(result: BenchResult): Promise<string> {
  const { barChart } = await import('../bench/report.js');
  const lines = [
    `${result.config.workload ?? result.config.mode}: ${result.totals.records.toLocaleString('en-US')} records in ${result.totals.seconds.toFixed(1)} s`
      + ` = ${Math.round(result.totals.recordsPerSec).toLocaleString('en-US')} records/s, ${result.totals.mbps.toFixed(1)} MB/s`,
  ];
  if (result.latency !== undefined) {
    const l = result.latency;
    lines.push(`${l.source} latency: p50 ${l.p50Ms} ms, p90 ${l.p90Ms} ms, p99 ${l.p99Ms} ms, p99.9 ${l.p999Ms} ms, max ${l.maxMs} ms (${l.count.toLocaleString('en-US')} samples)`);
  }
  if (result.series.length > 1) {
    lines.push(barChart('records/s per second', result.series.slice(0, 30).map((sample) => [`${sample.second + 1}s`, sample.records])));
  }
  if (result.transactions !== undefined) {
    lines.push(`${result.transactions.toLocaleString('en-US')} transactions of ${result.config.recordsPerTxn} records committed = ${(result.transactionsPerSec ?? 0).toFixed(1)} transactions/s`);
  }
  if (result.error !== undefined) lines.push(`ended early: ${result.error} (partial result)`);
  if (result.config.verify) {
    const { formatReport } = await import('../bench/verify.js');
    if (result.failedRecords) lines.push(`${result.failedRecords.toLocaleString('en-US')} records were not acknowledged (their sends failed); they are not counted as missing`);
    lines.push(result.verify !== undefined ? formatReport(result.verify) : `FAILED: could not read the topic back: ${result.verifyError ?? 'unknown reason'}`);
  }
  return lines.join('\n');
}

async function runMode(mode: BenchConfig['mode'], flags: BenchFlags): Promise<void> {
  const config = benchConfig(mode, flags);
  const [{ createProgress }, { runBench }, { renderReport }] = await Promise.all([
    import('../bench/load/progress.js'), import('../bench/load/run.js'), import('../bench/load/report-html.js'),
  ]);
  const progress = createProgress(flags.quiet ? 'quiet' : process.stderr.isTTY ? 'tty' : 'plain');
  const result = await runBench(config, progress);
  progress.done();
  if (flags.json !== undefined) fs.writeFileSync(flags.json, `${JSON.stringify(result, null, 2)}\n`);
  if (flags.report !== undefined) fs.writeFileSync(flags.report, renderReport([result]));
  process.stdout.write(`${await summary(result)}\n`);
  if (result.error !== undefined) process.exitCode = 1;
  if (config.verify && result.verify?.ok !== true) process.exitCode = 1;
}

/** `sluice bench verify`: checks a topic again against the acknowledged ids a --verify run wrote. */
async function verifyAgain(flags: { bootstrap?: string; acksFile: string; json?: boolean }): Promise<void> {
  const { formatReport, verifyTopic } = await import('../bench/verify.js');
  const acks = JSON.parse(fs.readFileSync(flags.acksFile, 'utf8')) as import('../bench/verify.js').AckLog;
  const report = await verifyTopic(flags.bootstrap ?? '127.0.0.1:9400', acks);
  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  if (!report.ok) process.exitCode = 1;
}

/** The load flags every mode takes. */
function withLoadOptions(command: Command): Command {
  return command
    .option('--bootstrap <host:port>', 'broker to load (default: 127.0.0.1:9400)')
    .option('--embedded', 'start a broker in a temporary data dir for this run')
    .option('--workload <name>', `start from a named workload: ${Object.keys(workloads).join(', ')}`)
    .option('--topic <name>', 'topic (default: sluice-bench)')
    .option('--partitions <n>', 'partitions of the topic (default: 6)')
    .option('--replication-factor <r>', 'replicas of each partition when the topic is created (default: the broker\'s)')
    .option('--topic-config <key=value>', 'a config of the topic when it is created, e.g. min.insync.replicas=2 (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--record-size <bytes>', 'value size (default: 100)')
    .option('--records <n>', 'records to send (default: 1,000,000 unless --duration)')
    .option('--duration <s>', 'run this long instead of a record count')
    .option('--rate <r>', 'records/s over all producers (default: as fast as possible)')
    .option('--producers <k>', 'producer processes (default: 1)')
    .option('--consumers <k>', 'consumer processes (default: 1)')
    .option('--acks <acks>', '0, 1 or all (default: 1)')
    .option('--compression <codec>', `${compressionTypes.join(', ')} (default: none)`)
    .option('--keys <keys>', 'none, random, or N distinct keys (default: none)')
    .option('--batch-size <bytes>', 'producer batch size (default: 16384)')
    .option('--linger-ms <ms>', 'producer linger (default: 5; 0 with --transactional-id)')
    .option('--warmup <s>', 'leave the first S seconds out of the latency percentiles (default: 0)')
    .option('--json <file>', 'write the result as JSON')
    .option('--report <file.html>', 'write an HTML report with charts')
    .option('--quiet', 'print only the result');
}

export function benchCommand(program: Command): void {
  const bench = program.command('bench')
    .description('load tests with live progress, percentiles, JSON and HTML reports')
    .argument('[mode]', 'produce, consume, e2e, verify or compare')
    .action((mode: string | undefined, _flags: unknown, self: Command) => {
      if (mode === undefined) {
        self.outputHelp();
        return;
      }
      self.error(`error: unknown bench mode "${mode}"`, { code: 'sluice.unknownMode' });
    });
  withExamples(bench, 'sluice bench e2e --embedded --workload latency --json e2e.json --report e2e.html');
  const modes: Array<[BenchConfig['mode'], string, string]> = [
    ['produce', 'producers send as fast as they can (or at --rate); reports throughput and produce latency', 'sluice bench produce --topic orders --records 1000000 --json produce.json'],
    ['consume', 'consumers read the topic from the start; reports throughput', 'sluice bench consume --topic orders --consumers 2'],
    ['e2e', 'producers at --rate and consumers at the live end; reports send-to-receive latency', 'sluice bench e2e --embedded --rate 20000 --duration 10'],
  ];
  for (const [mode, description, example] of modes) {
    const command = withLoadOptions(bench.command(mode).description(description));
    const examples = [example];
    if (mode === 'produce') {
      command
        .option('--verify', 'tag every record with an id, then read the topic back and report acknowledged-but-missing, duplicated and out-of-order records per partition (exit 1 if any acknowledged record is missing)')
        .option('--acks-file <file>', 'with --verify: write the acknowledged ids, to check again later with `sluice bench verify`')
        .option('--no-idempotence', 'the at-least-once producer: no producer id or sequence numbers, one batch per partition in flight (default: the client\'s, idempotent with --acks all)')
        .option('--transactional-id <id>', 'transactional producers: commit a transaction every --records-per-txn records (acks all); prints transactions/s')
        .option('--records-per-txn <n>', 'with --transactional-id: records per transaction (default: 100)');
      examples.push('sluice bench produce --bootstrap h1:9400,h2:9400 --topic checked --acks all --records 100000 --verify');
      examples.push('sluice bench produce --embedded --transactional-id bench --records-per-txn 10 --records 100000');
    }
    withExamples(command.action((flags: BenchFlags) => runMode(mode, flags)), ...examples);
  }
  withExamples(bench.command('verify').description('check a topic again against the acknowledged ids a `bench produce --verify --acks-file` run wrote')
    .requiredOption('--acks-file <file>', 'the file --acks-file wrote')
    .option('--bootstrap <host:port,...>', 'brokers to read from (default: 127.0.0.1:9400)')
    .option('--json', 'print the report as JSON')
    .action((flags: { bootstrap?: string; acksFile: string; json?: boolean }) => verifyAgain(flags)), 'sluice bench verify --acks-file acks.json --bootstrap 127.0.0.1:9400');
  withExamples(bench.command('compare').description('compare two JSON results side by side')
    .argument('<a.json>', 'first result').argument('<b.json>', 'second result')
    .action(async (first: string, second: string) => {
      const { compareResults } = await import('../bench/load/compare.js');
      process.stdout.write(`${compareResults(first, second)}\n`);
    }), 'sluice bench compare before.json after.json');
}
