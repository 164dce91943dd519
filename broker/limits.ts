/**
 * Every bound the broker enforces, in one place. Defaults follow Kafka where Kafka has one
 * (socket.request.max.bytes, connections.max.idle.ms, fetch.max.bytes); the broker's options
 * (BrokerOptions) override them.
 *
 * Worst-case memory held for requests: queuedRequestBytesMax (or one frame, if larger) +
 * connectionsMax × (connectionAllowanceBytes + what one paused socket has read ahead, about
 * 64 KiB + the stream's high-water mark).
 */
export const limits = {
  /** Largest request frame; larger ones are answered with FRAME_TOO_LARGE and the connection closed. */
  frameBytesMax: 100 * 1024 * 1024,
  /** Requests a connection may have unanswered at once; at the limit it stops reading until one is answered. */
  inflightRequestsMax: 128,
  /** max.connections: connections past it are closed as they arrive (logged and counted). */
  connectionsMax: 10_000,
  /**
   * queued.max.request.bytes: request bytes being received or waiting for their answer, across
   * all connections; a connection whose next frame does not fit stops reading until some is freed.
   */
  queuedRequestBytesMax: 128 * 1024 * 1024,
  /** Request bytes each connection may hold outside that budget, so small requests always get through. */
  connectionAllowanceBytes: 64 * 1024,
  /** A frame that has its memory must arrive whole within this, or its connection is closed (slowloris). */
  frameReceiveTimeoutMs: 30_000,
  /** fetch.max.bytes (Kafka's broker default): record bytes in one fetch response, whatever the client asks. */
  fetchBytesMax: 57_671_680,
  /** A connection with nothing in flight and no traffic for this long is closed. */
  idleTimeoutMs: 10 * 60 * 1000,
  /** Longest long-poll a fetch may ask for. */
  fetchWaitMsMax: 60 * 1000,
  /** Bytes queued on a socket before the broker stops reading requests from it. */
  socketWriteBufferBytesMax: 64 * 1024 * 1024,
  /** Partitions a topic may have. */
  partitionsMax: 10_000,
  /** How long a graceful stop waits for in-flight requests. */
  shutdownGraceMs: 10_000,
} as const;

// A produce of one full batch must fit in a frame.
if (limits.frameBytesMax < 2 * 1024 * 1024) throw new Error('frameBytesMax must hold at least one default-sized batch');
