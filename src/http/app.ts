import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import type { Database } from '../../db/connection.ts';
import type { Inbox } from '../events/inbox.ts';
import type { FailedEventActions } from '../failed-events.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { OpsStore } from '../ops-store.ts';
import type { CancelPayment } from '../payments/cancel-payment.ts';
import type { CreatePayment } from '../payments/create-payment.ts';
import type { PaymentHost } from '../payments/payment-host.ts';
import type { Reconciler } from '../payments/reconciler.ts';
import type { MockPgControls } from '../pg/mock-pg-controls.ts';
import type { PgClient } from '../pg/pg-client.ts';
import type { SettlementRunner } from '../settlement/settlement-runner.ts';
import { pageRoutes } from '../console/page-routes.ts';
import { requireAdmin } from './admin-auth.ts';
import { logAppError, problemMiddleware } from './problem.ts';
import { requestContext } from './request-context.ts';
import type { EventStreams } from './sse.ts';
import { adminRoutes } from './routes/admin.ts';
import { docsRoutes } from './routes/docs.ts';
import { figureRoutes } from './routes/figures.ts';
import { inboxRoutes } from './routes/inbox.ts';
import { liveRoutes } from './routes/live.ts';
import { machineRoutes } from './routes/machines.ts';
import { mockPgControlRoutes } from './routes/mock-pg-controls.ts';
import { paymentEventRoutes } from './routes/payment-events.ts';
import { healthRoutes } from './routes/health.ts';
import { paymentExportRoutes } from './routes/payment-export.ts';
import { paymentRoutes } from './routes/payments.ts';
import { pgWebhookRoutes } from './routes/pg-webhooks.ts';
import { productRoutes } from './routes/products.ts';
import { settlementRoutes } from './routes/settlements.ts';

export interface AppDeps {
  db: Database;
  host: PaymentHost;
  pg: PgClient;
  createPayment: CreatePayment;
  cancelPayment: CancelPayment;
  reconciler: Reconciler;
  failedEvents: FailedEventActions;
  inbox: Inbox;
  settlements: { runner: SettlementRunner; timeZone: string; runWaitMs: number };
  metrics: Metrics;
  ops: OpsStore;
  /**
   * The process's Server-Sent Events streams, bounded and ended when it stops: the public
   * payment streams apart from the operators' figures, so anyone holding many of the
   * first cannot lock the console out.
   */
  streams: { payments: EventStreams; figures: EventStreams };
  /** The chaos controls of our own mock PG, when PG_BASE_URL is one. */
  mockPg: MockPgControls | undefined;
  adminToken: string;
  webhookSecret: string;
  /** How long a PG webhook's id stays claimed while one copy is handled. */
  webhookClaimMs: number;
  clock: () => number;
  logger: Logger;
}

/** Builds the Koa app from its dependencies; main.ts wires and listens. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  const admin = requireAdmin(deps.adminToken);
  app.on('error', logAppError(deps.logger));
  app.use(requestContext(deps.logger));
  app.use(problemMiddleware(deps.logger));
  // Before the body parser: webhook signatures cover the raw bytes.
  const webhooks = pgWebhookRoutes({
    db: deps.db,
    host: deps.host,
    pg: deps.pg,
    secret: deps.webhookSecret,
    claimMs: deps.webhookClaimMs,
    clock: deps.clock,
    logger: deps.logger,
  });
  app.use(webhooks.routes());
  app.use(webhooks.allowedMethods());
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }));
  for (const router of [
    healthRoutes(deps.db, deps.metrics.registry),
    productRoutes(deps.db, admin, deps.clock),
    paymentRoutes({ db: deps.db, host: deps.host, createPayment: deps.createPayment, cancelPayment: deps.cancelPayment }),
    liveRoutes({ db: deps.db, host: deps.host, streams: deps.streams.payments, logger: deps.logger }),
    figureRoutes({ db: deps.db, ops: deps.ops, pg: deps.pg, pgIsMock: deps.mockPg !== undefined, streams: deps.streams.figures, admin, logger: deps.logger }),
    paymentExportRoutes(deps.db, admin),
    mockPgControlRoutes(deps.mockPg, admin),
    machineRoutes(),
    adminRoutes({ db: deps.db, host: deps.host, reconciler: deps.reconciler, failedEvents: deps.failedEvents, admin }),
    paymentEventRoutes({ db: deps.db, clock: deps.clock, admin }),
    inboxRoutes(deps.inbox, admin),
    settlementRoutes({ db: deps.db, ...deps.settlements, clock: deps.clock, admin }),
    docsRoutes(),
    pageRoutes(),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
