/**
 * Every bound the broker enforces, in one place. Defaults follow Kafka where Kafka has one
 * (socket.request.max.bytes, connections.max.idle.ms); each can be changed by a flag.
 */
export const limits = {
  /** Largest request frame; larger ones are answered with FRAME_TOO_LARGE and the connection closed. */
  frameBytesMax: 100 * 1024 * 1024,
  /** Requests a connection may have unanswered at once. */
  inflightRequestsMax: 128,
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
