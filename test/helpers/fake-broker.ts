/**
 * A small protocol peer that plays a broker for client tests: it answers ApiVersions and
 * Metadata as a broker with the given topics would, and every Produce with what `produce`
 * decides (by default a retriable storage error, as a broker with a full disk answers). It
 * speaks the real wire format (proto/wire.ts, proto/frame-decoder.ts) on 127.0.0.1.
 */
import net from 'node:net';
import { errorCodes } from '../../proto/errors.js';
import { FrameDecoder } from '../../proto/frame-decoder.js';
import { Api, apiBodyField, type ApiKey, type RequestEnvelope, type ProduceRequest } from '../../proto/messages.js';
import { RECORDS_COUNT_OFFSET } from '../../proto/record-batch/layout.js';
import { decodeRequest, encodeResponse } from '../../proto/wire.js';

export interface ProduceAttempt {
  topic: string;
  partition: number;
  /** How many produces this partition got before this one. */
  attempt: number;
  at: number;
}

export interface FakeBrokerOptions {
  /** Partition count per topic. */
  topics: Record<string, number>;
  /** The answer to one partition of a produce; default: SLUICE_ERR_STORAGE every time. */
  produce?: (attempt: ProduceAttempt) => { errorCode: number; errorMessage?: string; baseOffset?: number };
}

export const storageError = () => ({ errorCode: errorCodes.SLUICE_ERR_STORAGE.wire, errorMessage: 'no space left on device (ENOSPC) writing segment 0' });

export class FakeBroker {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #options: FakeBrokerOptions;
  readonly #nextOffsets = new Map<string, number>();
  readonly #attempts = new Map<string, number>();
  /** Every produce partition received, in order. */
  readonly produces: ProduceAttempt[] = [];
  port = 0;

  private constructor(options: FakeBrokerOptions) {
    this.#options = options;
    this.#server = net.createServer((socket) => this.#serve(socket));
  }

  static async start(options: FakeBrokerOptions): Promise<FakeBroker> {
    const broker = new FakeBroker(options);
    await new Promise<void>((resolve) => broker.#server.listen(0, '127.0.0.1', resolve));
    broker.port = (broker.#server.address() as net.AddressInfo).port;
    return broker;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  #serve(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const request = decodeRequest(frame);
        const field = apiBodyField[request.api as ApiKey];
        const body = this.#answer(request);
        socket.write(encodeResponse(body === undefined
          ? { correlationId: request.correlationId, errorCode: errorCodes.SLUICE_ERR_UNKNOWN_API.wire, errorMessage: `the fake broker does not answer api ${request.api}` }
          : { correlationId: request.correlationId, errorCode: 0, errorMessage: '', [field]: body }));
      }
    });
  }

  #answer(request: RequestEnvelope): unknown {
    switch (request.api) {
      case Api.API_VERSIONS:
        return { apis: [Api.API_VERSIONS, Api.METADATA, Api.PRODUCE].map((api) => ({ api, minVersion: 1, maxVersion: 1 })), brokerVersion: 'fake' };
      case Api.METADATA: {
        const asked = (request.metadata as { topics?: string[] }).topics ?? [];
        const names = asked.length === 0 ? Object.keys(this.#options.topics) : asked;
        return {
          brokers: [{ nodeId: 0, host: '127.0.0.1', port: this.port }],
          controllerId: 0,
          topics: names.map((name) => {
            const count = this.#options.topics[name];
            if (count === undefined) return { name, errorCode: errorCodes.SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION.wire, errorMessage: `unknown topic ${name}`, partitions: [] };
            return { name, errorCode: 0, errorMessage: '', partitions: Array.from({ length: count }, (_, partition) => ({ partition, errorCode: 0, leader: 0, replicas: [0], isr: [0] })) };
          }),
        };
      }
      case Api.PRODUCE: {
        const produce = request.produce as ProduceRequest;
        return {
          topics: produce.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map(({ partition, records }) => {
              const key = `${topic.name}/${partition}`;
              const attempt: ProduceAttempt = { topic: topic.name, partition, attempt: this.#attempts.get(key) ?? 0, at: Date.now() };
              this.#attempts.set(key, attempt.attempt + 1);
              this.produces.push(attempt);
              const answer = (this.#options.produce ?? storageError)(attempt);
              if (answer.errorCode !== 0) return { partition, errorCode: answer.errorCode, errorMessage: answer.errorMessage ?? '', baseOffset: -1, logStartOffset: 0, logAppendTimeMs: -1 };
              const baseOffset = this.#nextOffsets.get(key) ?? 0;
              this.#nextOffsets.set(key, baseOffset + records.readInt32BE(RECORDS_COUNT_OFFSET));
              return { partition, errorCode: 0, errorMessage: '', baseOffset, logStartOffset: 0, logAppendTimeMs: -1 };
            }),
          })),
        };
      }
      default:
        return undefined;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
