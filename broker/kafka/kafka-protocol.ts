/**
 * Kafka's wire protocol on a connection (the framing and its limits are the shared
 * Connection's): each frame is a request header (v1, or v2 in flexible versions) and a body
 * decoded by the schema-derived codec, handed to the API's handler, and answered with a response
 * header (v0/v1) and the encoded body, records spliced in uncopied.
 *
 * Requests run as they arrive, many at once, but their answers go out strictly in the order the
 * requests came, as Kafka clients require (they match responses to requests in order). Appends
 * therefore happen in arrival order too: a handler's work up to its first wait runs at once.
 *
 * What Kafka does with a request it cannot take, this does: an ApiVersions request of a version
 * it does not know is answered UNSUPPORTED_VERSION in the v0 layout with the served ranges; any
 * other unknown API key or unserved version, and a body that does not parse, closes the
 * connection (after the answers before it), with a log line. A request that fails in the
 * broker gets its API's error response.
 */
import { SluiceError } from '../../proto/errors.js';
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';
import {
  advertisedApiVersions, apiVersionsResponseVersion, isVersionServed, kafkaApi, kafkaApis,
} from '../../proto/kafka/apis.js';
import { decodeMessage, encodeMessage } from '../../proto/kafka/codec.js';
import { decodeRequestHeader, encodeResponseFrame } from '../../proto/kafka/header.js';
import type { BrokerContext } from '../api/context.js';
import type { ConnectionIo, FrameProtocol } from '../protocol/connection.js';
import { kafkaError } from './errors.js';
import type { KafkaHandler, KafkaRequestContext } from './handler.js';
import { kafkaHandlers } from './handlers.js';

type Outcome =
  | { kind: 'response'; chunks: Buffer[] }
  | { kind: 'none' }
  | { kind: 'close'; reason: string; fields?: Record<string, unknown> };

const apiVersionsKey = kafkaApis.apiVersions.apiKey;
const { UNSUPPORTED_VERSION: unsupportedVersion, INVALID_REQUEST: invalidRequest } = kafkaErrorCodes;

/** The ranges ApiVersions announces: every registry API this listener has a handler for. */
const announced = advertisedApiVersions().filter((range) => range.apiKey === apiVersionsKey || kafkaHandlers.has(range.apiKey));

export class KafkaProtocol implements FrameProtocol {
  readonly #context: BrokerContext;
  /** Settles once every answer so far is written: the next answer waits for it. */
  #tail: Promise<void> = Promise.resolve();
  #closing = false;

  constructor(context: BrokerContext) {
    this.#context = context;
  }

  /** Kafka has no answer for an unreadable stream: the connection just closes. */
  closingAnswer(): Buffer[] {
    return [];
  }

  handle(frame: Buffer, io: ConnectionIo): Promise<void> {
    const outcome = this.#answer(frame, io);
    const written = this.#tail.then(async () => {
      const result = await outcome;
      if (this.#closing) return;
      if (result.kind === 'response') {
        io.write(...result.chunks);
      } else if (result.kind === 'close') {
        this.#closing = true;
        io.logger.warn({ ...result.fields, reason: result.reason }, 'closing a Kafka connection after a request it cannot serve');
        io.close();
      }
    });
    this.#tail = written;
    return written;
  }

  /** Never rejects: every failure is an error response or a close. */
  async #answer(frame: Buffer, io: ConnectionIo): Promise<Outcome> {
    let header: ReturnType<typeof decodeRequestHeader>;
    try {
      header = decodeRequestHeader(frame);
    } catch (error) {
      return { kind: 'close', reason: 'malformed request header', fields: { frameBytes: frame.length, err: error } };
    }
    const { apiKey, apiVersion, correlationId } = header;
    if (apiKey === apiVersionsKey) return this.#apiVersions(frame, header);
    const handler = kafkaHandlers.get(apiKey);
    const api = kafkaApi(apiKey);
    if (handler === undefined || api === undefined) return { kind: 'close', reason: 'unknown API key', fields: { apiKey, apiVersion, clientId: header.clientId } };
    if (!isVersionServed(apiKey, apiVersion)) {
      return { kind: 'close', reason: `${api.name} v${apiVersion} is not served (versions ${api.minVersion}..${api.maxVersion})`, fields: { apiKey, apiVersion, clientId: header.clientId } };
    }
    let request: unknown;
    try {
      request = decodeMessage(handler.request, apiVersion, frame, header.bodyOffset);
    } catch (error) {
      return { kind: 'close', reason: `malformed ${api.name} v${apiVersion} request`, fields: { err: error, clientId: header.clientId } };
    }
    const started = process.hrtime.bigint();
    const context: KafkaRequestContext = { version: apiVersion, clientId: header.clientId, broker: this.#context, logger: io.logger };
    const response = await this.#run(handler, request, context);
    this.#context.metrics.observeRequest(`kafka.${handler.name}`, Number(process.hrtime.bigint() - started) / 1e9);
    if (response === undefined) return { kind: 'none' };
    try {
      return { kind: 'response', chunks: encodeResponseFrame(apiKey, apiVersion, correlationId, encodeMessage(handler.response, apiVersion, response as never)) };
    } catch (error) {
      // A response that does not encode is a bug here, not the client's: say so, and close rather than send garbage.
      io.logger.error({ err: error, api: api.name, apiVersion }, 'a Kafka response did not encode');
      return { kind: 'close', reason: `the ${api.name} response did not encode` };
    }
  }

  async #run(handler: KafkaHandler, request: unknown, context: KafkaRequestContext): Promise<unknown> {
    try {
      return await handler.handle(request as never, context);
    } catch (error) {
      if (!SluiceError.is(error)) context.logger.error({ err: error, api: handler.name }, 'Kafka request failed');
      return handler.failed(request as never, kafkaError(error, handler.scope ?? 'partition'), context);
    }
  }

  /** Our ranges at any version; a version we do not know gets UNSUPPORTED_VERSION in the v0 layout. */
  #apiVersions(frame: Buffer, header: ReturnType<typeof decodeRequestHeader>): Outcome {
    const api = kafkaApis.apiVersions;
    const version = apiVersionsResponseVersion(header.apiVersion);
    let errorCode = version === header.apiVersion ? 0 : unsupportedVersion;
    if (errorCode === 0) {
      try {
        decodeMessage(api.request, version, frame, header.bodyOffset);
      } catch {
        // Kafka answers a body it cannot read with INVALID_REQUEST and its ranges, so the client learns them anyway.
        errorCode = invalidRequest;
      }
    }
    const body = encodeMessage(api.response, version, { errorCode, apiKeys: announced, throttleTimeMs: 0 });
    return { kind: 'response', chunks: encodeResponseFrame(api.apiKey, version, header.correlationId, body) };
  }
}
