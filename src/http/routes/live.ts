import type Router from '@koa/router';
import type { Database } from '../../../db/connection.ts';
import { findPayment, type PaymentRow } from '../../../db/payments-repo.ts';
import type { Sql } from '../../../db/sql.ts';
import { notFound } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { exactRouter } from '../router.ts';
import { pathId } from '../schemas.ts';
import type { EventStreams } from '../sse.ts';
import { validate } from '../validate.ts';

/** Changes committed by another process are seen this often; this process's at once. */
const OTHER_PROCESS_POLL_MS = 1_000;

export interface LiveRoutesDeps {
  db: Database;
  host: PaymentHost;
  streams: EventStreams;
  logger: Logger;
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

type LiveSnapshot = ReturnType<typeof toLiveSnapshot>;

/**
 * One watch per payment, whatever the number of its viewers: one host watch and one
 * poll (for other processes' commits) read the row once for all of them.
 */
function livePayments(q: Sql, host: PaymentHost, logger: Logger) {
  const watched = new Map<string, { viewers: Set<(snapshot: LiveSnapshot) => void>; read: () => void; stop: () => void }>();
  return {
    /** Calls `viewer` now and after every committed change until the returned function is called. */
    view(id: string, viewer: (snapshot: LiveSnapshot) => void): () => void {
      let entry = watched.get(id);
      if (!entry) {
        const viewers = new Set<(snapshot: LiveSnapshot) => void>();
        const failed = (error: unknown) => logger.error({ paymentId: id, err: error }, 'live payment read failed');
        // Reads may resolve out of order (on PostgreSQL each takes a connection of the pool):
        // one that began before the row shown last is older, and is dropped.
        let begun = 0;
        let shown = 0;
        const read = () => {
          const ticket = ++begun;
          void findPayment(q, id)
            .then((row) => {
              if (!row || ticket < shown) return;
              shown = ticket;
              const snapshot = toLiveSnapshot(row);
              for (const each of viewers) each(snapshot);
            })
            .catch(failed);
        };
        const unwatch = host.watch(id, read);
        const poll = setInterval(read, OTHER_PROCESS_POLL_MS);
        entry = { viewers, read, stop: () => (unwatch(), clearInterval(poll)) };
        watched.set(id, entry);
      }
      const { viewers } = entry;
      viewers.add(viewer);
      // To every viewer: the others' streams leave out a frame they have just sent.
      entry.read();
      return () => {
        viewers.delete(viewer);
        if (viewers.size === 0 && watched.get(id) === entry) {
          entry.stop();
          watched.delete(id);
        }
      };
    },
  };
}

/**
 * `GET /v1/payments/:id/live`: Server-Sent Events, an event `snapshot` at once and after
 * every committed change, until the client leaves. Only committed state is sent (rule 4).
 */
export function liveRoutes({ db, host, streams, logger }: LiveRoutesDeps): Router {
  const router = exactRouter();
  const payments = livePayments(db.read, host, logger);

  router.get('/v1/payments/:id/live', async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    if (!(await findPayment(db.read, id))) throw notFound(`Payment ${id}`);
    // The stream first: when no place is left, nothing is set up for it.
    let leave = () => {};
    const stream = streams.open(ctx, () => leave());
    if (stream) leave = payments.view(id, (snapshot) => stream.send('snapshot', snapshot));
  });

  return router;
}
