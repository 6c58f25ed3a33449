import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { json, operation } from '../operation.ts';

const tag = 'Health';

export const healthPaths: ZodOpenApiPathsObject = {
  '/healthz': {
    get: operation('get', {
      operationId: 'getHealth',
      summary: 'Liveness: the process serves HTTP',
      tag,
      responses: { 200: json('serving', z.object({ status: z.literal('ok') })) },
    }),
  },
  '/readyz': {
    get: operation('get', {
      operationId: 'getReadiness',
      summary: 'Readiness: the database is open and every migration applied',
      tag,
      responses: {
        200: json('ready', z.object({ status: z.literal('ready') })),
        // A plain JSON body, not a problem document: load balancers read the status only.
        503: json('not ready', z.object({ status: z.literal('not_ready') })),
      },
    }),
  },
  '/metrics': {
    get: operation('get', {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      tag,
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
  },
};
