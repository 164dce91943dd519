/**
 * What a Kafka API handler is: the message schemas it reads and writes, a function from the
 * decoded request to the response (calling the broker services), and the response for a request
 * that failed as a whole, with the error in every place the response has for one. The protocol
 * (kafka-protocol.ts) does the framing, the header, the decoding and the encoding around it.
 */
import type { Logger } from 'pino';
import type { KafkaMessage, KafkaMessageInput, MessageSchema } from '../../proto/kafka/schema.js';
import type { BrokerContext } from '../api/context.js';
import type { ErrorScope, KafkaError } from './errors.js';

export interface KafkaRequestContext {
  /** The request's API version. */
  version: number;
  clientId: string | null;
  broker: BrokerContext;
  logger: Logger;
}

export interface KafkaHandler<Q extends MessageSchema = MessageSchema, R extends MessageSchema = MessageSchema> {
  readonly name: string;
  readonly request: Q;
  readonly response: R;
  /** How its errors map to Kafka's (default 'partition'). */
  readonly scope?: ErrorScope;
  /** The response; undefined when the request gets none (Produce with acks=0). */
  handle(request: KafkaMessage<Q>, context: KafkaRequestContext): Promise<KafkaMessageInput<R> | undefined> | KafkaMessageInput<R> | undefined;
  /** The response to a request that failed as a whole. */
  failed(request: KafkaMessage<Q>, error: KafkaError, context: KafkaRequestContext): KafkaMessageInput<R>;
}

/** Declares a handler with its types inferred from its schemas. */
export function kafkaHandler<Q extends MessageSchema, R extends MessageSchema>(handler: KafkaHandler<Q, R>): KafkaHandler {
  return handler as unknown as KafkaHandler;
}

/** Kafka's nullable error message: null when there is no error or nothing to say. */
export function errorMessage(error: KafkaError): string | null {
  return error.errorCode === 0 || error.errorMessage === '' ? null : error.errorMessage;
}
