import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { findFailedEvent, listFailedEvents, type FailedEventRow } from '../../../db/attention-repo.ts';
import type { Db } from '../../../db/connection.ts';
import { findPayment } from '../../../db/payments-repo.ts';
import { AppError, notFound, paymentBusy } from '../../errors.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { toPaymentResource } from '../../payments/payment-view.ts';
import type { Reconciler } from '../../payments/reconciler.ts';
import { exactRouter } from '../router.ts';
import { pathId } from '../schemas.ts';
import { validate } from '../validate.ts';

export interface AdminRoutesDeps {
  db: Db;
  host: PaymentHost;
  reconciler: Reconciler;
  admin: Middleware;
}

const iso = (ms: number) => new Date(ms).toISOString();

export const toFailedEventResource = (row: FailedEventRow) => ({
  id: String(row.id),
  kind: row.kind,
  paymentId: row.paymentId,
  step: row.step,
  reason: row.reason,
  status: row.status,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
  resolvedBy: row.resolvedBy,
  note: row.note,
});

const failedEventsQuery = z.object({ status: z.enum(['open', 'retried', 'ignored', 'resolved']).optional() });
const eventId = z.object({ id: z.string().regex(/^\d{1,15}$/, 'not a failed-event id') });
const retryBody = z.object({ reason: z.string().min(1).max(500).optional() }).optional();
const ignoreBody = z.object({ reason: z.string().min(1).max(500) });
const resolveBody = z.object({ outcome: z.enum(['cancelled', 'kept']), reason: z.string().min(1).max(500) });

/** A name, an e-mail address or an account id: nothing that could forge or garble a line of the audit trail. */
const ACTOR = /^[A-Za-z0-9_.@:+-]{1,100}$/;

/** Who acts: the X-Admin-Actor header (the admin token is shared), for the audit trail; "admin" when absent or not a plain name. */
function actorOf(ctx: Context): string {
  const given = ctx.get('x-admin-actor');
  return ACTOR.test(given) ? given : 'admin';
}

export function adminRoutes({ db, host, reconciler, admin }: AdminRoutesDeps): Router {
  // Each route carries the guard itself: no path can match a route without passing through it.
  const router = exactRouter({ prefix: '/v1/admin' });

  /**
   * Sends a dead letter's payment back into the failed step (retry) or closes it
   * (ignore). The machine logs the action and the failed event changes in the same
   * transaction; only open dead letters of payments still needing attention qualify.
   */
  async function resolve(id: number, type: 'admin.retry' | 'admin.ignore', actor: string, reason: string) {
    const event = findFailedEvent(db, id);
    if (!event) throw notFound(`Failed event ${id}`);
    if (event.status !== 'open') throw new AppError(409, 'invalid_state', `Failed event ${id} is ${event.status}`);
    const outcome = await host.deliver(event.paymentId, { type, failedEventId: String(id), actor, reason });
    if (outcome === 'refused') throw new AppError(409, 'invalid_state', `Payment ${event.paymentId} does not need attention`);
    if (outcome !== 'accepted') throw paymentBusy();
    return toFailedEventResource(findFailedEvent(db, id)!);
  }

  router.get('/failed-events', admin, (ctx) => {
    const { status } = validate(failedEventsQuery, ctx.query);
    ctx.body = { data: listFailedEvents(db, status).map(toFailedEventResource) };
  });

  router.post('/failed-events/retry-all', admin, async (ctx) => {
    const body = validate(retryBody, ctx.request.body);
    const open = listFailedEvents(db, 'open');
    const data = [];
    for (const event of open) {
      data.push(await resolve(event.id, 'admin.retry', actorOf(ctx), body?.reason ?? 'retry all'));
    }
    ctx.body = { retried: data.length, data };
  });

  router.post('/failed-events/:id/retry', admin, async (ctx) => {
    const { id } = validate(eventId, ctx.params);
    const body = validate(retryBody, ctx.request.body);
    ctx.body = await resolve(Number(id), 'admin.retry', actorOf(ctx), body?.reason ?? 'manual retry');
  });

  router.post('/failed-events/:id/ignore', admin, async (ctx) => {
    const { id } = validate(eventId, ctx.params);
    const { reason } = validate(ignoreBody, ctx.request.body);
    ctx.body = await resolve(Number(id), 'admin.ignore', actorOf(ctx), reason);
  });

  /**
   * Settles a payment that needs an operator (API.md, "Resolving a payment by hand"): the
   * money went back outside Paystate (cancelled), or the charge stands (kept).
   */
  router.post('/payments/:id/resolve', admin, async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    const { outcome, reason } = validate(resolveBody, ctx.request.body);
    const before = findPayment(db, id);
    if (!before) throw notFound(`Payment ${id}`);
    const delivered = await host.deliver(id, { type: 'admin.resolve', outcome, actor: actorOf(ctx), reason });
    if (delivered === 'refused') {
      throw new AppError(
        409,
        'invalid_state',
        before.status === 'requires_attention'
          ? `The charge of payment ${id} cannot be kept: its order cannot be handed over`
          : `Payment ${id} is ${before.status}; only a payment in requires_attention can be resolved`,
      );
    }
    if (delivered !== 'accepted') throw paymentBusy();
    ctx.body = toPaymentResource(findPayment(db, id)!);
  });

  router.post('/reconcile', admin, (ctx) => {
    ctx.body = reconciler.runPass();
  });

  return router;
}
