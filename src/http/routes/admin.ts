import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { listFailedEvents, type FailedEventRow } from '../../../db/attention-repo.ts';
import type { Db } from '../../../db/connection.ts';
import type { Reconciler } from '../../payments/reconciler.ts';
import { validate } from '../validate.ts';

export interface AdminRoutesDeps {
  db: Db;
  reconciler: Reconciler;
  admin: Middleware;
}

const iso = (ms: number) => new Date(ms).toISOString();

export const toFailedEventResource = (row: FailedEventRow) => ({
  id: String(row.id),
  paymentId: row.paymentId,
  step: row.step,
  reason: row.reason,
  status: row.status,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
  resolvedBy: row.resolvedBy,
  note: row.note,
});

const failedEventsQuery = z.object({ status: z.enum(['open', 'retried', 'ignored']).optional() });

export function adminRoutes({ db, reconciler, admin }: AdminRoutesDeps): Router {
  const router = new Router({ prefix: '/v1/admin' });
  router.use(admin);

  router.get('/failed-events', (ctx) => {
    const { status } = validate(failedEventsQuery, ctx.query);
    ctx.body = { data: listFailedEvents(db, status).map(toFailedEventResource) };
  });

  router.post('/reconcile', (ctx) => {
    ctx.body = reconciler.runPass();
  });

  return router;
}
