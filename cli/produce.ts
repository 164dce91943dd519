import readline from 'node:readline';
import { parseArgs } from 'node:util';
import type { ProducerRecord } from '../client/producer.js';
import { Sluice } from '../client/sluice.js';

/** Lines sent per send() call: enough to fill batches, few enough to bound memory. */
const linesPerSend = 1000;

export async function produceCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bootstrap: { type: 'string', default: '127.0.0.1:9400' },
      'key-separator': { type: 'string' },
      acks: { type: 'string', default: 'all' },
      compression: { type: 'string', default: 'none' },
      'linger-ms': { type: 'string', default: '5' },
    },
  });
  const topic = positionals[0];
  if (topic === undefined) throw new Error('usage: sluice produce TOPIC [--key-separator SEP] [--acks 0|1|all] [--compression none|lz4]');
  const acks = values.acks === 'all' || values.acks === '-1' ? -1 : values.acks === '1' ? 1 : values.acks === '0' ? 0 : undefined;
  if (acks === undefined) throw new Error(`--acks must be 0, 1 or all, got "${values.acks}"`);
  if (values.compression !== 'none' && values.compression !== 'lz4') throw new Error(`--compression must be none or lz4, got "${values.compression}"`);
  const separator = values['key-separator'];
  const sluice = new Sluice({ bootstrap: values.bootstrap, clientId: 'sluice-cli', connectTimeoutMs: 3000 });
  const producer = sluice.producer({ acks, compression: values.compression, lingerMs: Number(values['linger-ms']) });
  const started = Date.now();
  let records = 0;
  let bytes = 0;
  const partitions = new Set<number>();
  let pending: ProducerRecord[] = [];
  const sendPending = async () => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    for (const sent of await producer.send({ topic, messages: batch })) partitions.add(sent.partition);
  };
  try {
    for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const cut = separator === undefined ? -1 : line.indexOf(separator);
      pending.push(cut < 0 ? { value: line } : { key: line.slice(0, cut), value: line.slice(cut + separator!.length) });
      records += 1;
      bytes += Buffer.byteLength(line);
      if (pending.length >= linesPerSend) await sendPending();
    }
    await sendPending();
    await producer.flush();
  } finally {
    await sluice.close();
  }
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(`produced ${records} records (${bytes} bytes) to ${topic} across ${partitions.size} partition(s) in ${seconds.toFixed(2)} s\n`);
}
