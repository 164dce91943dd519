/**
 * Sluice's own protocol on a connection: each frame is a protobuf request, run at once by its
 * handler (many concurrently), and answered as soon as it finishes, matched by correlation id.
 * Every failure becomes an error response; a frame that cannot be decoded gets its error with
 * correlation id 0 and the connection keeps serving.
 */
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type { RequestEnvelope } from '../../proto/messages.js';
import { decodeRequest, encodeResponse } from '../../proto/wire.js';
import type { ApiHandler, BrokerContext } from '../api/context.js';
import type { ConnectionIo, FrameProtocol } from './connection.js';

export class NativeProtocol implements FrameProtocol {
  readonly #handlers: ReadonlyMap<number, ApiHandler>;
  readonly #context: BrokerContext;

  constructor(handlers: ReadonlyMap<number, ApiHandler>, context: BrokerContext) {
    this.#handlers = handlers;
    this.#context = context;
  }

  closingAnswer(error: SluiceError): Buffer[] {
    return [encodeResponse({ correlationId: 0, ...errorToWire(error) })];
  }

  async handle(frame: Buffer, io: ConnectionIo): Promise<void> {
    const started = process.hrtime.bigint();
    let request: RequestEnvelope;
    try {
      request = decodeRequest(frame);
    } catch (error) {
      io.write(encodeResponse({ correlationId: 0, ...errorToWire(error) }));
      return;
    }
    const correlationId = request.correlationId;
    const handler = this.#handlers.get(request.api);
    try {
      if (handler === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_API', `unknown API ${request.api}`);
      if (request.version < handler.minVersion || request.version > handler.maxVersion) {
        throw new SluiceError('SLUICE_ERR_UNSUPPORTED_VERSION', `${handler.name} supports versions ${handler.minVersion}..${handler.maxVersion}, not ${request.version}`);
      }
      if (request.body !== handler.bodyField) {
        throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `${handler.name} needs a ${handler.bodyField} body, got ${request.body ?? 'none'}`);
      }
      const result = await handler.handle(request, this.#context);
      if (result.kind === 'body') io.write(encodeResponse({ correlationId, [handler.bodyField]: result.body } as never));
      else if (result.kind === 'frames') io.write(...result.frames);
    } catch (error) {
      if (!SluiceError.is(error)) io.logger.error({ err: error, api: request.api }, 'request failed');
      io.write(encodeResponse({ correlationId, ...errorToWire(error) }));
    }
    this.#context.metrics.observeRequest(handler?.name ?? 'unknown', Number(process.hrtime.bigint() - started) / 1e9);
  }
}
