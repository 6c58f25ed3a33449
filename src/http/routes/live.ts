import type Router from '@koa/router';
import type { Db } from '../../../db/connection.ts';
import { findPayment, type PaymentRow } from '../../../db/payments-repo.ts';
import { notFound } from '../../errors.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { exactRouter } from '../router.ts';
import { pathId } from '../schemas.ts';
import type { EventStreams } from '../sse.ts';
import { validate } from '../validate.ts';

/** Changes committed by another process are seen this often; this process's at once. */
const OTHER_PROCESS_POLL_MS = 1_000;

export interface LiveRoutesDeps {
  db: Db;
  host: PaymentHost;
  streams: EventStreams;
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
export function liveRoutes({ db, host, streams }: LiveRoutesDeps): Router {
  const router = exactRouter();

  router.get('/v1/payments/:id/live', (ctx) => {
    const { id } = validate(pathId, ctx.params);
    if (!findPayment(db, id)) throw notFound(`Payment ${id}`);
    // The stream first: when no place is left, nothing is set up for it.
    let unwatch = () => {};
    let poll: NodeJS.Timeout | undefined;
    const stream = streams.open(ctx, () => {
      unwatch();
      clearInterval(poll);
    });
    const send = () => {
      const row = findPayment(db, id);
      if (row) stream.send('snapshot', toLiveSnapshot(row));
    };
    unwatch = host.watch(id, send);
    poll = setInterval(send, OTHER_PROCESS_POLL_MS);
    send();
  });

  return router;
}
