/**
 * The wire codec: the protobuf messages of proto/sluice.proto, loaded once by reflection
 * (protobufjs compiles an encoder and decoder per type at load time, so this is as fast as
 * generated static code; see BENCHMARKS.md), and the 4-byte big-endian length framing.
 */
import path from 'node:path';
import protobuf from 'protobufjs';
import { SluiceError } from './errors.js';
import { packageRoot } from './package-root.js';
import type { RequestEnvelope, ResponseEnvelope } from './messages.js';

// Offsets and timestamps fit in 2^53: plain numbers beat Long objects everywhere they go.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

const root = protobuf.loadSync(path.join(packageRoot(import.meta.url), 'proto', 'sluice.proto'));

export const RequestType = root.lookupType('sluice.v1.Request');
export const ResponseType = root.lookupType('sluice.v1.Response');
export const FetchPartitionResultType = root.lookupType('sluice.v1.FetchPartitionResult');
export const errorCodeEnum = root.lookupEnum('sluice.v1.ErrorCode');

export const frameHeaderBytes = 4;

/** A whole frame: length prefix and message. */
export function frame(message: Uint8Array): Buffer {
  const output = Buffer.allocUnsafe(frameHeaderBytes + message.length);
  output.writeUInt32BE(message.length, 0);
  output.set(message, frameHeaderBytes);
  return output;
}

export function encodeRequest(request: RequestEnvelope): Buffer {
  return frame(RequestType.encode(RequestType.fromObject(request)).finish());
}

export function encodeResponse(response: ResponseEnvelope): Buffer {
  return frame(ResponseType.encode(ResponseType.fromObject(response)).finish());
}

/**
 * Decoded message instances are used as they are: fields are own properties, unset ones
 * fall back to proto3 defaults on the prototype, bytes are views of the frame, and the
 * `body` oneof names the field that is set. No toObject() copy on the hot path.
 */
function decode<T>(type: protobuf.Type, message: Buffer, what: string): T {
  try {
    return type.decode(message) as unknown as T;
  } catch (cause) {
    throw new SluiceError('SLUICE_ERR_MALFORMED_FRAME', `cannot decode ${what}: ${(cause as Error).message}`, { cause });
  }
}

export function decodeRequest(message: Buffer): RequestEnvelope {
  return decode<RequestEnvelope>(RequestType, message, 'request');
}

export function decodeResponse(message: Buffer): ResponseEnvelope {
  return decode<ResponseEnvelope>(ResponseType, message, 'response');
}

/** Unsigned LEB128, as protobuf writes lengths and tags. */
export function uvarint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

export function uvarintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size += 1;
  }
  return size;
}
