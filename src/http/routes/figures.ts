import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { countOpenFailedEvents } from '../../../db/attention-repo.ts';
import type { Database } from '../../../db/connection.ts';
import { countByStatus } from '../../../db/payments-repo.ts';
import { PUBLIC_STATUSES } from '../../../machines/payment-status.ts';
import type { Logger } from '../../logger.ts';
import type { OpsStore } from '../../ops-store.ts';
import type { PgClient } from '../../pg/pg-client.ts';
import { exactRouter } from '../router.ts';
import type { EventStreams } from '../sse.ts';

/** Counts in the database (other processes' payments too) are read this often while someone watches. */
const DATABASE_POLL_MS = 2_000;
/** Changes of this process's figures come in bursts under load: sent at most this often. */
const COALESCE_MS = 250;

type FigureSources = Omit<FigureRoutesDeps, 'admin' | 'streams' | 'logger'>;

export interface FigureRoutesDeps {
  db: Database;
  ops: OpsStore;
  pg: Pick<PgClient, 'queued'>;
  /** The PG is our local mock (its chaos controls are at /v1/admin/mock-pg/chaos). */
  pgIsMock: boolean;
  streams: EventStreams;
  admin: Middleware;
  logger: Logger;
}

/** This process's figures, from its store: cheap, read on every change. */
function processFigures({ ops, pg, pgIsMock }: FigureSources) {
  const { actorsInMemory, snapshotWriteFailures, pgConsecutiveFailures, pgLastOkAt, pgLastFailureAt } = ops.getSnapshot().context;
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
  };
}

/** Every process's payments by status and the open dead letters: a scan of an index, read on a timer. */
async function databaseFigures({ db }: FigureSources) {
  const counts = new Map((await countByStatus(db.read)).map((r) => [r.status, r.count]));
  return {
    paymentsByStatus: Object.fromEntries(PUBLIC_STATUSES.map((status) => [status, counts.get(status) ?? 0])),
    openFailedEvents: await countOpenFailedEvents(db.read),
  };
}

type DatabaseFigures = Awaited<ReturnType<typeof databaseFigures>>;

/** What an operator watches: this process's actors and PG health (the store), and every payment by status. */
async function figuresOf(sources: FigureSources) {
  const counted = await databaseFigures(sources);
  return { ...processFigures(sources), ...counted };
}

type Figures = Awaited<ReturnType<typeof figuresOf>>;

/**
 * The figures for every watcher at once, whatever their number: the store's part on each
 * change (coalesced), the database's part every DATABASE_POLL_MS (a busy store would
 * otherwise recount every payment four times a second).
 */
function figuresFeed(sources: FigureSources, logger: Logger) {
  const watchers = new Set<(figures: Figures) => void>();
  let stop: (() => void) | undefined;
  let pending: NodeJS.Timeout | undefined;
  // Read when the first watcher comes (start), then on the timer; nothing is published before the first read is in.
  let counted: DatabaseFigures | undefined;
  const publish = () => {
    pending = undefined;
    if (!counted) return;
    const figures = { ...processFigures(sources), ...counted };
    for (const watcher of watchers) watcher(figures);
  };
  const count = () =>
    void databaseFigures(sources)
      .then((figures) => {
        counted = figures;
        publish();
      })
      .catch((error: unknown) => logger.error({ err: error }, 'figures count failed'));
  const start = () => {
    counted = undefined;
    count();
    const subscription = sources.ops.subscribe(() => {
      pending ??= setTimeout(publish, COALESCE_MS);
    });
    const poll = setInterval(count, DATABASE_POLL_MS);
    return () => {
      subscription.unsubscribe();
      clearInterval(poll);
      clearTimeout(pending);
      pending = undefined;
    };
  };
  return {
    /** Calls `watcher` now (once the first count is in) and on every publication until the returned function is called. */
    watch(watcher: (figures: Figures) => void): () => void {
      watchers.add(watcher);
      stop ??= start();
      if (counted) watcher({ ...processFigures(sources), ...counted });
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
export function figureRoutes({ admin, streams, logger, ...sources }: FigureRoutesDeps): Router {
  const router = exactRouter();
  const feed = figuresFeed(sources, logger);

  router.get('/v1/admin/figures', admin, async (ctx) => {
    ctx.body = await figuresOf(sources);
  });

  router.get('/v1/admin/figures/live', admin, (ctx) => {
    let unwatch = () => {};
    const stream = streams.open(ctx, () => unwatch());
    if (stream) unwatch = feed.watch((figures) => stream.send('figures', figures));
  });

  return router;
}
