/**
 * The Kafka listener's flags on a real broker process: `--kafka-listen off` serves no Kafka
 * clients (the ready line says −1), `--kafka-advertise` is what Metadata announces, and a Kafka
 * port already taken stops the broker with a message naming the flag.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaApis } from '../../proto/kafka/apis.js';
import { kafkaListener } from '../../cli/broker.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { decodeResponse, KafkaWire, requestFrame } from '../helpers/kafka-wire.js';

describe('the Kafka listener flags', () => {
  afterAll(cleanupBrokers);

  it('parses HOST:PORT, off, and an advertised address', () => {
    expect(kafkaListener('127.0.0.1:9092', undefined)).toEqual({ host: '127.0.0.1', port: 9092 });
    expect(kafkaListener('0.0.0.0:19092', 'kafka.example.com:9092')).toEqual({ host: '0.0.0.0', port: 19092, advertise: { host: 'kafka.example.com', port: 9092 } });
    expect(kafkaListener('OFF', undefined)).toBeUndefined();
    expect(() => kafkaListener('off', 'kafka.example.com:9092')).toThrow(/--kafka-advertise needs a Kafka listener/);
    expect(() => kafkaListener('9092', undefined)).toThrow(/--kafka-listen must be HOST:PORT/);
  });

  it('serves no Kafka clients with --kafka-listen off', async () => {
    const broker = await startBroker({ kafkaPort: 'off' });
    expect(broker.kafkaPort).toBe(-1);
    expect(broker.kafkaBootstrap).toBe('');
    await broker.stop();
  });

  it('announces the --kafka-advertise address in Metadata', async () => {
    const broker = await startBroker({ args: ['--kafka-advertise', 'kafka.example.com:19092'] });
    const wire = await KafkaWire.connect(broker.kafkaPort);
    const api = kafkaApis.metadata;
    wire.send(requestFrame(api.request, 12, 1, { topics: null }));
    expect(decodeResponse(api.response, 12, (await wire.frame())!).body.brokers).toEqual([{ nodeId: 0, host: 'kafka.example.com', port: 19092, rack: null }]);
    wire.close();
    await broker.stop();
  });

  it('stops with a message naming the flag when the Kafka port is taken', async () => {
    const first = await startBroker();
    await expect(startBroker({ kafkaPort: first.kafkaPort })).rejects.toThrow(/cannot listen for Kafka clients on 127\.0\.0\.1:\d+ \(EADDRINUSE\).*--kafka-listen/);
  });
});
