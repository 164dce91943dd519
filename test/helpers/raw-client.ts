/**
 * A raw protocol peer for bad-input tests: writes arbitrary bytes and collects whatever
 * response frames come back, so a test can send what no well-behaved client would.
 */
import net from 'node:net';
import { FrameDecoder } from '../../proto/frame-decoder.js';
import type { ResponseEnvelope } from '../../proto/messages.js';
import { decodeResponse } from '../../proto/wire.js';

export class RawClient {
  readonly socket: net.Socket;
  readonly responses: ResponseEnvelope[] = [];
  closed = false;
  #decoder = new FrameDecoder(512 * 1024 * 1024);
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.responses.push(decodeResponse(frame));
      this.#notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  send(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Waits for the `count`-th response (or the connection closing), at most `timeoutMs`. */
  async response(count = this.responses.length + 1, timeoutMs = 5000): Promise<ResponseEnvelope | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.responses.length < count && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.responses[count - 1];
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A frame around arbitrary message bytes. */
export function rawFrame(message: Buffer, declaredLength = message.length): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(declaredLength >>> 0, 0);
  return Buffer.concat([header, message]);
}
