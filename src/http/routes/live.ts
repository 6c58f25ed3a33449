import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import type { Db } from '../../../db/connection.ts';
import { findPayment, type PaymentRow } from '../../../db/payments-repo.ts';
import { notFound } from '../../errors.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { exactRouter } from '../router.ts';
import { pathId } from '../schemas.ts';
import { validate } from '../validate.ts';

/** Changes committed by another process are seen this often; this process's at once. */
const OTHER_PROCESS_POLL_MS = 1_000;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

export interface LiveRoutesDeps {
  db: Db;
  host: PaymentHost;
}

/** What a live view shows of a payment: its public status and the machine's full state value. */
function toLiveSnapshot(row: PaymentRow) {
  return {
    status: row.status,
    state: row.state,
    value: (JSON.parse(row.snapshot) as { value: unknown }).value,
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

/**
 * `GET /v1/payments/:id/live`: Server-Sent Events, an event `snapshot` at once and after
 * every committed change, until the client leaves. Only committed state is sent (rule 4).
 */
export function liveRoutes({ db, host }: LiveRoutesDeps): Router {
  const router = exactRouter();

  router.get('/v1/payments/:id/live', (ctx) => {
    const { id } = validate(pathId, ctx.params);
    if (!findPayment(db, id)) throw notFound(`Payment ${id}`);
    const stream = new PassThrough();
    let last = '';
    const send = () => {
      const row = findPayment(db, id);
      if (!row || `${row.state}|${row.updatedAt}` === last) return;
      last = `${row.state}|${row.updatedAt}`;
      stream.write(`event: snapshot\ndata: ${JSON.stringify(toLiveSnapshot(row))}\n\n`);
    };
    const unwatch = host.watch(id, send);
    const poll = setInterval(send, OTHER_PROCESS_POLL_MS);
    const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    // The response's close: the client left (the request's fires once its body is read).
    ctx.res.once('close', () => {
      unwatch();
      clearInterval(poll);
      clearInterval(keepAlive);
      stream.end();
    });
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.set('Cache-Control', 'no-cache, no-transform');
    ctx.type = 'text/event-stream';
    ctx.body = stream;
    send();
  });

  return router;
}
