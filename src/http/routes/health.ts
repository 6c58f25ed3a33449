import type Router from '@koa/router';
import { exactRouter } from '../router.ts';
import type { Registry } from 'prom-client';
import type { Database } from '../../../db/connection.ts';

export function healthRoutes(db: Database, registry: Registry): Router {
  const router = exactRouter();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const ready = await db.isReady();
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready' };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  return router;
}
