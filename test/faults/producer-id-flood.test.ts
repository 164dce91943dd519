/**
 * A client minting producer ids: 200,000 one-record batches to one partition, each under a new
 * producer id, against a broker whose heap is capped at 64 MiB. Each id's state took ~400 bytes
 * and the broker ran out of heap after about 120,000 of them; a partition now keeps at most
 * --max-producer-ids-per-partition (10,000) and forgets the least recently active. The broker
 * stays up, stores every batch, and still rejects a real producer's duplicate.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { brokerMemory } from '../../bench/broker-process.js';
import { Sluice } from '../../client/sluice.js';
import { Api, type ProduceResponse } from '../../proto/messages.js';
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';
import { encodeRequest } from '../../proto/wire.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

afterAll(cleanupBrokers);

const ids = 200_000;
/** Requests in flight on the connection at once, below the broker's 128. */
const window = 100;

function produceFrame(correlationId: number, producerId: number, baseSequence: number): Buffer {
  const records = buildRecordBatch([{ key: null, value: Buffer.from(`from ${producerId}`) }], { producerId, producerEpoch: 0, baseSequence });
  return encodeRequest({
    api: Api.PRODUCE, version: 1, correlationId, clientId: 'id-flood',
    produce: { acks: 1, timeoutMs: 5000, topics: [{ name: 'flood', partitions: [{ partition: 0, records }] }] },
  });
}

describe('a client minting producer ids', () => {
  it('cannot exhaust a 64 MiB heap: the partition keeps 10,000 ids and the broker goes on', async () => {
    const broker = await startBroker({ nodeArgs: ['--max-old-space-size=64'] });
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    await sluice.admin().createTopic('flood', { partitions: 1 });
    const raw = await RawClient.connect(broker.port);
    const deadline = Date.now() + 120_000;
    for (let sent = 0; sent < ids && Date.now() < deadline; sent += window) {
      raw.send(Buffer.concat(Array.from({ length: window }, (_, index) => produceFrame(sent + index, 1_000_000 + sent + index, 0))));
      const last = await raw.response(sent + window, 10_000);
      expect(last, `no answer to request ${sent + window}`).toBeDefined();
    }
    expect(raw.responses).toHaveLength(ids);
    const failed = raw.responses.map((response) => (response.produce as ProduceResponse).topics[0]!.partitions[0]!).filter((result) => result.errorCode !== 0);
    expect(failed).toEqual([]);
    raw.close();

    expect(broker.child.exitCode).toBeNull();
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^sluice_producer_ids\{topic="flood",partition="0"\} 10000$/m);
    expect(metrics).toMatch(new RegExp(`^sluice_producer_ids_evicted\\{topic="flood",partition="0"\\} ${ids - 10_000}$`, 'm'));
    expect((await brokerMemory(broker.httpPort)).heapUsed).toBeLessThan(64 * 1024 * 1024);

    // A producer the broker still tracks is checked as before: its resend is not stored again.
    const check = await RawClient.connect(broker.port);
    check.send(produceFrame(1, 7, 0));
    check.send(produceFrame(2, 7, 0));
    const first = (await check.response(1))!.produce as ProduceResponse;
    const again = (await check.response(2))!.produce as ProduceResponse;
    expect(again.topics[0]!.partitions[0]!.baseOffset).toBe(first.topics[0]!.partitions[0]!.baseOffset);
    check.close();
    await sluice.close();
  }, 180_000);
});
