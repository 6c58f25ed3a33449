import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Inbox } from '../../events/inbox.ts';
import { exactRouter } from '../router.ts';

/** POST /v1/inbox/events: an upstream event starts a payment (admin token: it is a system's call). */
export function inboxRoutes(inbox: Inbox, admin: Middleware): Router {
  const router = exactRouter();
  router.post('/v1/inbox/events', admin, async (ctx) => {
    const { eventId, paymentId, replayed } = await inbox.receive(ctx.request.body);
    ctx.status = replayed ? 200 : 202;
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.set('Location', `/v1/payments/${paymentId}`);
    ctx.body = { eventId, paymentId };
  });
  return router;
}
