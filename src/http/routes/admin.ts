import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { listFailedEvents, type FailedEventRow } from '../../../db/attention-repo.ts';
import type { Database } from '../../../db/connection.ts';
import { findPayment } from '../../../db/payments-repo.ts';
import { AppError, notFound, paymentBusy } from '../../errors.ts';
import { maskBillingKeys } from '../../logger.ts';
import type { FailedEventActions } from '../../failed-events.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { toPaymentResource } from '../../payments/payment-view.ts';
import type { Reconciler } from '../../payments/reconciler.ts';
import { exactRouter } from '../router.ts';
import { pathId } from '../schemas.ts';
import { validate } from '../validate.ts';

export interface AdminRoutesDeps {
  db: Database;
  host: PaymentHost;
  reconciler: Reconciler;
  failedEvents: FailedEventActions;
  admin: Middleware;
}

const iso = (ms: number) => new Date(ms).toISOString();

export const toFailedEventResource = (row: FailedEventRow) => ({
  id: String(row.id),
  kind: row.kind,
  paymentId: row.paymentId,
  ...(row.kind === 'webhook_delivery' ? { eventId: row.eventId, endpointId: row.endpointId } : {}),
  // A billing key charges the customer: an operator sees only its last characters.
  ...(row.kind === 'inbound_event' ? { message: row.payload === null ? null : maskBillingKeys(row.payload) } : {}),
  step: row.step,
  reason: row.reason,
  status: row.status,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
  resolvedBy: row.resolvedBy,
  note: row.note,
});

export const failedEventsQuery = z.object({ status: z.enum(['open', 'retried', 'ignored', 'resolved']).optional() });
export const eventId = z.object({ id: z.string().regex(/^\d{1,15}$/, 'not a failed-event id') });
export const retryBody = z.object({ reason: z.string().min(1).max(500).optional() }).optional();
export const ignoreBody = z.object({ reason: z.string().min(1).max(500) });
export const resolveBody = z.object({ outcome: z.enum(['cancelled', 'kept']), reason: z.string().min(1).max(500) });

/** A name, an e-mail address or an account id: nothing that could forge or garble a line of the audit trail. */
const ACTOR = /^[A-Za-z0-9_.@:+-]{1,100}$/;

/** Who acts: the X-Admin-Actor header (the admin token is shared), for the audit trail; "admin" when absent or not a plain name. */
export function actorOf(ctx: Context): string {
  const given = ctx.get('x-admin-actor');
  return ACTOR.test(given) ? given : 'admin';
}

export function adminRoutes({ db, host, reconciler, failedEvents, admin }: AdminRoutesDeps): Router {
  // Each route carries the guard itself: no path can match a route without passing through it.
  const router = exactRouter({ prefix: '/v1/admin' });

  router.get('/failed-events', admin, async (ctx) => {
    const { status } = validate(failedEventsQuery, ctx.query);
    ctx.body = { data: (await listFailedEvents(db.read, status)).map(toFailedEventResource) };
  });

  router.post('/failed-events/retry-all', admin, async (ctx) => {
    const body = validate(retryBody, ctx.request.body);
    const decision = { actor: actorOf(ctx), reason: body?.reason ?? 'retry all' };
    const data = [];
    // One dead letter that cannot be retried now (its payment busy elsewhere) does not stop the rest.
    const failed = [];
    for (const event of await listFailedEvents(db.read, 'open')) {
      try {
        data.push(toFailedEventResource(await failedEvents.retry(event.id, decision)));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        failed.push({ id: String(event.id), code: error.code, detail: error.message });
      }
    }
    ctx.body = { retried: data.length, data, failed };
  });

  router.post('/failed-events/:id/retry', admin, async (ctx) => {
    const { id } = validate(eventId, ctx.params);
    const body = validate(retryBody, ctx.request.body);
    ctx.body = toFailedEventResource(await failedEvents.retry(Number(id), { actor: actorOf(ctx), reason: body?.reason ?? 'manual retry' }));
  });

  router.post('/failed-events/:id/ignore', admin, async (ctx) => {
    const { id } = validate(eventId, ctx.params);
    const { reason } = validate(ignoreBody, ctx.request.body);
    ctx.body = toFailedEventResource(await failedEvents.ignore(Number(id), { actor: actorOf(ctx), reason }));
  });

  /**
   * Settles a payment that needs an operator (API.md, "Resolving a payment by hand"): the
   * money went back outside Paystate (cancelled), or the charge stands (kept).
   */
  router.post('/payments/:id/resolve', admin, async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    const { outcome, reason } = validate(resolveBody, ctx.request.body);
    const before = await findPayment(db.read, id);
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
    ctx.body = toPaymentResource((await findPayment(db.read, id))!);
  });

  router.post('/reconcile', admin, async (ctx) => {
    ctx.body = await reconciler.runPass();
  });

  return router;
}
