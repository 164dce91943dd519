/**
 * GET /v1/debug/memory: the broker process's memory, for leak tests and soaks. When node runs
 * with --expose-gc it first forces a full collection, so `heapUsed` is what is really still
 * reachable rather than what the collector has not got round to yet.
 */
import type { FastifyInstance } from 'fastify';

export interface DebugMemory extends NodeJS.MemoryUsage {
  /** True when a full GC ran just before the figures were taken (node --expose-gc). */
  gcForced: boolean;
}

export function readMemory(): DebugMemory {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return { gcForced: gc !== undefined, ...process.memoryUsage() };
}

export function registerDebugMemory(app: FastifyInstance, extra: () => Record<string, unknown>): void {
  app.get('/v1/debug/memory', async () => ({ ...readMemory(), ...extra() }));
}
