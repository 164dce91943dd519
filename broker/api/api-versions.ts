import { Api } from '../../proto/messages.js';
import type { ApiHandler } from './context.js';

export function apiVersionsHandler(handlers: () => ApiHandler[], brokerVersion: string): ApiHandler {
  return {
    api: Api.API_VERSIONS,
    name: 'ApiVersions',
    bodyField: 'apiVersions',
    minVersion: 1,
    maxVersion: 1,
    handle: () => ({
      kind: 'body',
      body: {
        apis: handlers().map((handler) => ({ api: handler.api, minVersion: handler.minVersion, maxVersion: handler.maxVersion })),
        brokerVersion,
      },
    }),
  };
}
