import type Router from '@koa/router';
import { exactRouter } from '../router.ts';
import type { Registry } from 'prom-client';
import { isReady, type Sqlite } from '../../../db/connection.ts';

export function healthRoutes(sqlite: Sqlite, registry: Registry): Router {
  const router = exactRouter();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', (ctx) => {
    const ready = isReady(sqlite);
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready' };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  return router;
}
