/**
 * A raw Kafka-protocol peer for the Kafka listener's tests: requests framed by hand (header v1 or
 * v2 as the registry says, the body from the schema codec), and response frames collected as
 * they arrive, so a test sees their order, their correlation ids, and the connection closing.
 */
import net from 'node:net';
import { requestHeaderVersion, responseHeaderVersion } from '../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../proto/kafka/codec.js';
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../../proto/kafka/schema.js';
import { FrameReader } from '../../proto/frame-reader.js';

/** A whole request frame: size, header (v1, or v2 in flexible versions), body. */
export function requestFrame<S extends MessageSchema>(schema: S, version: number, correlationId: number, body: KafkaMessageInput<S>, clientId = 'raw'): Buffer {
  return requestFrameOf(schema.apiKey, version, correlationId, Buffer.concat(encodeMessage(schema, version, body)), clientId);
}

/** A request frame around body bytes of any API key and version (also ones the broker does not serve). */
export function requestFrameOf(apiKey: number, version: number, correlationId: number, body: Buffer, clientId = 'raw'): Buffer {
  const client = Buffer.from(clientId);
  const flexible = requestHeaderVersion(apiKey, version) === 2;
  const header = Buffer.alloc(10 + client.length + (flexible ? 1 : 0));
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(client.length, 8);
  client.copy(header, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length, 0);
  return Buffer.concat([size, header, body]);
}

export class KafkaWire {
  readonly socket: net.Socket;
  /** Response frames (after their size prefix), in arrival order. */
  readonly frames: Buffer[] = [];
  closed = false;
  readonly #reader = new FrameReader();
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      for (let frame = this.#reader.take(); frame !== undefined; frame = this.#reader.take()) this.frames.push(Buffer.from(frame));
      this.#notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  static connect(port: number): Promise<KafkaWire> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new KafkaWire(socket)));
      socket.once('error', reject);
    });
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  send(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Waits for the `count`-th response frame; undefined if the connection closed first or time ran out. */
  async frame(count = this.frames.length + 1, timeoutMs = 5000): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames[count - 1];
  }

  /** Resolves once the broker has closed the connection (false if it is still open after `timeoutMs`). */
  async closedWithin(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A response frame's correlation id and body, read with the header version the registry gives. */
export function decodeResponse<S extends MessageSchema>(schema: S, version: number, frame: Buffer): { correlationId: number; body: KafkaMessage<S> } {
  const headerBytes = responseHeaderVersion(schema.apiKey, version) === 0 ? 4 : 5;
  return { correlationId: frame.readInt32BE(0), body: decodeMessage(schema, version, frame, headerBytes) };
}
