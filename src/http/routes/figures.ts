import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { countOpenFailedEvents } from '../../../db/attention-repo.ts';
import type { Db } from '../../../db/connection.ts';
import { countByStatus } from '../../../db/payments-repo.ts';
import { PUBLIC_STATUSES } from '../../../machines/payment-status.ts';
import type { OpsStore } from '../../ops-store.ts';
import type { PgClient } from '../../pg/pg-client.ts';
import { exactRouter } from '../router.ts';
import { openEventStream } from '../sse.ts';

/** Counts in the database (other processes' payments too) are read this often while someone watches. */
const DATABASE_POLL_MS = 2_000;
/** Changes of this process's figures come in bursts under load: sent at most this often. */
const COALESCE_MS = 250;

export interface FigureRoutesDeps {
  db: Db;
  ops: OpsStore;
  pg: Pick<PgClient, 'queued'>;
  /** The PG is our local mock (its chaos controls are at /v1/admin/mock-pg/chaos). */
  pgIsMock: boolean;
  admin: Middleware;
}

/** What an operator watches: this process's actors and PG health (the store), and every payment by status. */
function figuresOf({ db, ops, pg, pgIsMock }: Omit<FigureRoutesDeps, 'admin'>) {
  const { actorsInMemory, snapshotWriteFailures, pgConsecutiveFailures, pgLastOkAt, pgLastFailureAt } = ops.getSnapshot().context;
  const counts = new Map(countByStatus(db).map((r) => [r.status, r.count]));
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    actorsInMemory,
    snapshotWriteFailures,
    pg: {
      consecutiveFailures: pgConsecutiveFailures,
      lastOkAt: iso(pgLastOkAt),
      lastFailureAt: iso(pgLastFailureAt),
      queued: pg.queued,
      mock: pgIsMock,
    },
    paymentsByStatus: Object.fromEntries(PUBLIC_STATUSES.map((status) => [status, counts.get(status) ?? 0])),
    openFailedEvents: countOpenFailedEvents(db),
  };
}

/** `GET /v1/admin/figures` once, `GET /v1/admin/figures/live` as Server-Sent Events (`figures`). */
export function figureRoutes({ admin, ...sources }: FigureRoutesDeps): Router {
  const router = exactRouter();

  router.get('/v1/admin/figures', admin, (ctx) => {
    ctx.body = figuresOf(sources);
  });

  router.get('/v1/admin/figures/live', admin, (ctx) => {
    let pending: NodeJS.Timeout | undefined;
    const send = () => {
      pending = undefined;
      stream.send('figures', figuresOf(sources));
    };
    const soon = () => {
      pending ??= setTimeout(send, COALESCE_MS);
    };
    const subscription = sources.ops.subscribe(soon);
    const poll = setInterval(send, DATABASE_POLL_MS);
    const stream = openEventStream(ctx, () => {
      subscription.unsubscribe();
      clearInterval(poll);
      clearTimeout(pending);
    });
    send();
  });

  return router;
}
