/**
 * What the client logs through: any pino-compatible logger. By default warnings (a consumer
 * resetting its position after a truncation, say) go to stderr as pino JSON lines, never to
 * stdout, which belongs to the application.
 */
import pino from 'pino';

export interface ClientLogger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
  debug(object: object, message: string): void;
}

export function defaultLogger(): ClientLogger {
  return pino({ name: 'sluice-client', level: 'warn' }, pino.destination({ fd: 2, sync: true }));
}
