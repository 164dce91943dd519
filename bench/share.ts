/**
 * Share-group benchmark: one broker process, a topic of 6 partitions holding N 100-byte
 * records, consumers in this process. In one run: acknowledged records/s with 1, 4 and 16
 * share consumers (each record acked on its own, acks merged into ranges by the client), the
 * time from ack() to the coordinator's answer (p50/p99), and the share-state bytes written per
 * ack (growth of the broker's internal share-state log over the run / records acked); next to
 * classic-group consumption of the same records (1 and 6 members) and, as the machine's own
 * baseline, Node-to-Node loopback socket throughput.
 *
 *   npm run bench:share -- [--json] [--records N] [--classic 1,6]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import { BrokerConnection } from '../client/connection.js';
import { parseBootstrap, Sluice } from '../client/sluice.js';
import { Api } from '../proto/messages.js';
import { eachBatch } from '../proto/record-batch/batch-iterator.js';
import { batchLastOffset } from '../proto/record-batch/record-batch.js';
import { launchBroker } from './broker-process.js';
import { loopbackMBps } from './loopback.js';
import { barChart } from './report.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, records: { type: 'string', default: '200000' }, classic: { type: 'string', default: '1,6' } } });
const records = Number(values.records);
const partitions = 6;
const topic = 'share-bench';
const classicMembers = values.classic.split(',').map(Number);
const progress = (text: string) => process.stderr.write(`${text}\n`);
const perSecond = (value: number) => Math.round(value).toLocaleString('en-US');

interface ShareRun { consumers: number; recordsPerSec: number; ackP50Ms: number; ackP99Ms: number; stateBytesPerAck: number }

/**
 * Bytes in the logs that keep share state (the broker appends every transition to the group's
 * __consumer_offsets partition; topics named __share* count too, should it move there): every
 * batch from each partition's start to its end, fetched and summed (segment files are
 * preallocated, so their sizes say nothing). Nothing else writes there during a share run.
 */
async function stateLogBytes(bootstrap: string): Promise<number> {
  const sluice = new Sluice({ bootstrap });
  const connection = new BrokerConnection(parseBootstrap(bootstrap));
  let total = 0;
  try {
    const admin = sluice.admin();
    for (const name of (await admin.listTopics()).filter((candidate) => candidate.startsWith('__share') || candidate === '__consumer_offsets')) {
      for (const partition of (await admin.describeTopic(name)).partitions) {
        let offset = Math.max(0, partition.logStartOffset);
        while (offset < partition.logEndOffset) {
          const answer = await connection.request<'fetch'>(Api.FETCH, {
            maxWaitMs: 0, minBytes: 0, maxBytes: 16 * 1024 * 1024, isolationLevel: 0,
            topics: [{ name, partitions: [{ partition: partition.partition, fetchOffset: offset, maxBytes: 16 * 1024 * 1024, currentLeaderEpoch: -1 }] }],
          });
          const records = answer.topics[0]?.partitions[0]?.records ?? Buffer.alloc(0);
          if (records.length === 0) break;
          for (const { position, size } of eachBatch(records)) {
            total += size;
            offset = Math.max(offset, batchLastOffset(records, position) + 1);
          }
        }
      }
    }
  } finally {
    connection.close();
    await sluice.close();
  }
  return total;
}

async function classic(bootstrap: string, members: number): Promise<number> {
  const sluice = new Sluice({ bootstrap });
  const groupId = `classic-${members}`;
  let consumed = 0;
  let firstAt = 0;
  let lastAt = 0;
  const deadline = Date.now() + 120_000;
  await Promise.all(Array.from({ length: members }, async () => {
    const consumer = sluice.consumer({ groupId, autoOffsetReset: 'earliest', autoCommit: true });
    consumer.subscribe([topic]);
    while (consumed < records && Date.now() < deadline) {
      const got = (await consumer.poll({ timeoutMs: 100 })).length;
      if (got > 0 && firstAt === 0) firstAt = performance.now();
      consumed += got;
      if (consumed >= records && lastAt === 0) lastAt = performance.now();
    }
    await consumer.close();
  }));
  await sluice.close();
  if (lastAt === 0) throw new Error(`classic group of ${members}: ${consumed} of ${records} records within 120 s`);
  // From the first record to the last: joining the group is not consumption.
  return consumed / ((lastAt - firstAt) / 1000);
}

async function share(bootstrap: string, consumers: number): Promise<ShareRun> {
  const sluice = new Sluice({ bootstrap });
  const groupId = `share-${consumers}`;
  await sluice.admin().alterGroupConfigs(groupId, { 'share.auto.offset.reset': 'earliest' });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const stateBefore = await stateLogBytes(bootstrap);
  let acked = 0;
  let firstAt = 0;
  let lastAt = 0;
  const deadline = Date.now() + 300_000;
  await Promise.all(Array.from({ length: consumers }, async () => {
    const consumer = sluice.consumer({ groupId, share: true, maxInFlight: 1000 });
    consumer.subscribe([topic]);
    const answers: Array<Promise<void>> = [];
    while (acked < records && Date.now() < deadline) {
      for (const record of await consumer.poll({ timeoutMs: 100 })) {
        const sent = performance.now();
        if (firstAt === 0) firstAt = sent;
        answers.push(record.ack().then(() => {
          acked += 1;
          if (acked === records) lastAt = performance.now();
          histogram.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)));
        }, () => {}));
      }
    }
    await Promise.all(answers);
    await consumer.close();
  }));
  await sluice.close();
  if (lastAt === 0) throw new Error(`share group of ${consumers}: ${acked} of ${records} records acknowledged within 300 s`);
  const seconds = (lastAt - firstAt) / 1000;
  const stateBytes = await stateLogBytes(bootstrap) - stateBefore;
  return {
    consumers, recordsPerSec: acked / seconds, ackP50Ms: histogram.getValueAtPercentile(50) / 1000, ackP99Ms: histogram.getValueAtPercentile(99) / 1000,
    stateBytesPerAck: acked === 0 ? 0 : stateBytes / acked,
  };
}

async function main(): Promise<void> {
  progress('share bench: loopback baseline ...');
  const loopback = await loopbackMBps(512 * 1024 ** 2);
  progress(`  loopback ${loopback.toFixed(0)} MiB/s`);
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-share-'));
  const broker = await launchBroker(dataDirectory, { kafkaPort: 'off' });
  try {
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic(topic, { partitions });
    const producer = sluice.producer({ lingerMs: 5 });
    const value = Buffer.alloc(100, 'x');
    for (let sent = 0; sent < records; sent += 10_000) await producer.send({ topic, messages: Array.from({ length: Math.min(10_000, records - sent) }, () => ({ value })) });
    await producer.close();
    await sluice.close();
    progress(`share bench: broker pid ${broker.child.pid}, ${records.toLocaleString('en-US')} records of 100 bytes on ${partitions} partitions, consumers in this process`);

    const classicRates: Array<[string, number]> = [];
    for (const members of classicMembers) {
      const rate = await classic(broker.bootstrap, members);
      progress(`  classic group, ${members} member${members === 1 ? '' : 's'}: ${perSecond(rate)} records/s`);
      classicRates.push([`classic ×${members}`, rate]);
    }
    const runs: ShareRun[] = [];
    for (const consumers of [1, 4, 16]) {
      const run = await share(broker.bootstrap, consumers);
      progress(`  share group, ${consumers} consumer${consumers === 1 ? '' : 's'}: ${perSecond(run.recordsPerSec)} acked records/s, ack p50 ${run.ackP50Ms.toFixed(2)} ms, p99 ${run.ackP99Ms.toFixed(2)} ms, ${run.stateBytesPerAck.toFixed(1)} state bytes/ack`);
      runs.push(run);
    }
    progress(barChart('records/s (classic: consumed; share: each acknowledged and answered)', [
      ...classicRates.map(([label, rate]): [string, number] => [label, Math.round(rate)]), ...runs.map((run): [string, number] => [`share ×${run.consumers}`, Math.round(run.recordsPerSec)]),
    ]));
    progress(barChart('ack p99 (µs, ack() to the coordinator\'s answer)', runs.map((run): [string, number] => [`share ×${run.consumers}`, Math.round(run.ackP99Ms * 1000)])));
    const best = Math.max(...runs.map((run) => run.recordsPerSec));
    progress(`best share rate is ${(best / classicRates[0]![1]).toFixed(2)}× one classic member; loopback baseline ${loopback.toFixed(0)} MiB/s (${perSecond(loopback * 1024 ** 2 / 100)} 100-byte records/s)`);
    const result = {
      date: new Date().toISOString(), machine: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`, records, partitions, recordBytes: 100,
      loopbackMBps: Math.round(loopback), classic: Object.fromEntries(classicRates.map(([label, rate]) => [label, Math.round(rate)])), share: runs,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await broker.stop();
    fs.rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
