/**
 * Kafka's request and response headers and response framing.
 *
 * Request header v1: apiKey int16, apiVersion int16, correlationId int32, clientId (nullable
 * string with an int16 length — also in v2, where the rest is compact). v2 adds a tagged-field
 * block, which Sluice reads past. Which version a request uses follows from its API key and
 * version (apis.ts), both at the start of the header. Response header v0: correlationId; v1
 * adds an (empty) tagged-field block. ApiVersions responses always use v0.
 */
import { requestHeaderVersion, responseHeaderVersion } from './apis.js';
import { chunksLength } from './codec.js';
import { KafkaProtocolError } from './error-codes.js';

export interface KafkaRequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** 1 or 2; 1 for API keys Sluice does not know (their body is not read). */
  readonly headerVersion: 1 | 2;
  /** Where the body starts in the frame. */
  readonly bodyOffset: number;
}

function truncated(what: string, frame: Buffer, position: number): KafkaProtocolError {
  return new KafkaProtocolError(`request header: ${what} runs past the end of the ${frame.length}-byte frame (at ${position})`);
}

function readUvarint(frame: Buffer, position: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i += 1) {
    if (position >= frame.length) throw truncated('a tagged-field varint', frame, position);
    const byte = frame[position++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, position];
    scale *= 0x80;
  }
  throw new KafkaProtocolError('request header: a tagged-field varint is longer than 5 bytes');
}

/**
 * Reads a request header from a frame (the bytes after the size prefix). Throws
 * KafkaProtocolError when the frame is too short for it.
 */
export function decodeRequestHeader(frame: Buffer, offset = 0): KafkaRequestHeader {
  if (offset < 0 || offset + 10 > frame.length) throw truncated('the fixed fields', frame, offset);
  const apiKey = frame.readInt16BE(offset);
  const apiVersion = frame.readInt16BE(offset + 2);
  const correlationId = frame.readInt32BE(offset + 4);
  const clientIdLength = frame.readInt16BE(offset + 8);
  let position = offset + 10;
  let clientId: string | null = null;
  if (clientIdLength >= 0) {
    if (position + clientIdLength > frame.length) throw truncated('the client id', frame, position);
    clientId = frame.toString('utf8', position, position + clientIdLength);
    position += clientIdLength;
  } else if (clientIdLength !== -1) {
    throw new KafkaProtocolError(`request header: client id length ${clientIdLength}`);
  }
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  if (headerVersion === 2) {
    // The request header defines no tagged fields: skip whatever a client sent.
    let count: number;
    [count, position] = readUvarint(frame, position);
    for (let i = 0; i < count; i += 1) {
      let size: number;
      [, position] = readUvarint(frame, position);
      [size, position] = readUvarint(frame, position);
      if (position + size > frame.length) throw truncated('a tagged field', frame, position);
      position += size;
    }
  }
  return { apiKey, apiVersion, correlationId, clientId, headerVersion, bodyOffset: position };
}

/** A response header: v0 is the correlation id, v1 adds an empty tagged-field block. */
export function encodeResponseHeader(correlationId: number, headerVersion: 0 | 1): Buffer {
  const header = Buffer.alloc(headerVersion === 0 ? 4 : 5);
  header.writeInt32BE(correlationId, 0);
  return header;
}

/**
 * A whole response frame as chunks to write in order: size prefix and header in one small
 * buffer, then the encoded body (encodeMessage's chunks, records uncopied). The header version
 * follows from the API key and version, ApiVersions' exception included.
 */
export function encodeResponseFrame(apiKey: number, apiVersion: number, correlationId: number, body: readonly Buffer[]): Buffer[] {
  const headerSize = responseHeaderVersion(apiKey, apiVersion) === 0 ? 4 : 5;
  const prefix = Buffer.alloc(4 + headerSize);
  prefix.writeInt32BE(headerSize + chunksLength(body), 0);
  prefix.writeInt32BE(correlationId, 4);
  return [prefix, ...body];
}
