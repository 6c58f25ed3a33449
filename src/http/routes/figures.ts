import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { countOpenFailedEvents } from '../../../db/attention-repo.ts';
import type { Db } from '../../../db/connection.ts';
import { countByStatus } from '../../../db/payments-repo.ts';
import { PUBLIC_STATUSES } from '../../../machines/payment-status.ts';
import type { OpsStore } from '../../ops-store.ts';
import type { PgClient } from '../../pg/pg-client.ts';
import { exactRouter } from '../router.ts';
import type { EventStreams } from '../sse.ts';

/** Counts in the database (other processes' payments too) are read this often while someone watches. */
const DATABASE_POLL_MS = 2_000;
/** Changes of this process's figures come in bursts under load: sent at most this often. */
const COALESCE_MS = 250;

type FigureSources = Omit<FigureRoutesDeps, 'admin' | 'streams'>;

export interface FigureRoutesDeps {
  db: Db;
  ops: OpsStore;
  pg: Pick<PgClient, 'queued'>;
  /** The PG is our local mock (its chaos controls are at /v1/admin/mock-pg/chaos). */
  pgIsMock: boolean;
  streams: EventStreams;
  admin: Middleware;
}

/** What an operator watches: this process's actors and PG health (the store), and every payment by status. */
function figuresOf({ db, ops, pg, pgIsMock }: FigureSources) {
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

type Figures = ReturnType<typeof figuresOf>;

/**
 * The figures for every watcher at once: computed once per change (coalesced) and once
 * every DATABASE_POLL_MS while anyone watches, whatever the number of watchers.
 */
function figuresFeed(sources: FigureSources) {
  const watchers = new Set<(figures: Figures) => void>();
  let stop: (() => void) | undefined;
  let pending: NodeJS.Timeout | undefined;
  const publish = () => {
    pending = undefined;
    const figures = figuresOf(sources);
    for (const watcher of watchers) watcher(figures);
  };
  const start = () => {
    const subscription = sources.ops.subscribe(() => {
      pending ??= setTimeout(publish, COALESCE_MS);
    });
    const poll = setInterval(publish, DATABASE_POLL_MS);
    return () => {
      subscription.unsubscribe();
      clearInterval(poll);
      clearTimeout(pending);
      pending = undefined;
    };
  };
  return {
    /** Calls `watcher` now and on every publication until the returned function is called. */
    watch(watcher: (figures: Figures) => void): () => void {
      watchers.add(watcher);
      stop ??= start();
      watcher(figuresOf(sources));
      return () => {
        watchers.delete(watcher);
        if (watchers.size === 0) {
          stop?.();
          stop = undefined;
        }
      };
    },
  };
}

/** `GET /v1/admin/figures` once, `GET /v1/admin/figures/live` as Server-Sent Events (`figures`). */
export function figureRoutes({ admin, streams, ...sources }: FigureRoutesDeps): Router {
  const router = exactRouter();
  const feed = figuresFeed(sources);

  router.get('/v1/admin/figures', admin, (ctx) => {
    ctx.body = figuresOf(sources);
  });

  router.get('/v1/admin/figures/live', admin, (ctx) => {
    let unwatch = () => {};
    const stream = streams.open(ctx, () => unwatch());
    unwatch = feed.watch((figures) => stream.send('figures', figures));
  });

  return router;
}
