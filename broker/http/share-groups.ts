/**
 * GET /v1/share-groups/:id: a share group as DescribeShareGroup tells it, with its configs.
 * 404 when this broker does not coordinate the group (the body says which code and why).
 */
import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../../proto/errors.js';
import type { ShareCoordinator } from '../share/share-coordinator.js';

export function registerShareGroups(app: FastifyInstance, share: () => ShareCoordinator | undefined): void {
  app.get<{ Params: { id: string } }>('/v1/share-groups/:id', async (request, reply) => {
    const coordinator = share();
    if (coordinator === undefined) return reply.code(503).send({ error: 'SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', message: 'the share coordinator is not running yet' });
    try {
      const { errorCode: _code, errorMessage: _message, ...described } = coordinator.describe(request.params.id);
      return { ...described, configs: coordinator.describeConfigs(request.params.id) };
    } catch (error) {
      if (!SluiceError.is(error)) throw error;
      return reply.code(404).send({ error: error.code, message: error.message });
    }
  });
}
