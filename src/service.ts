import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { openDatabase, type Database } from '../db/connection.ts';
import { openPostgres } from '../db/postgres.ts';
import { paymentMachine } from '../machines/payment.machine.ts';
import type { Config } from './config.ts';
import { startAlertRelay } from './alerts/alert-relay.ts';
import { createPgAuthAlarm } from './alerts/pg-auth-alarm.ts';
import { startAmqpBridge } from './events/amqp-bridge.ts';
import { createAmqpConsumer } from './events/amqp-consumer.ts';
import { createAmqpPublisher } from './events/amqp-publisher.ts';
import { createInbox } from './events/inbox.ts';
import { recordCreatedEvent, recordStatusEvents } from './events/payment-events.ts';
import { startWebhookRelay } from './events/webhook-relay.ts';
import { createFailedEventActions } from './failed-events.ts';
import { createApp } from './http/app.ts';
import { answerParserErrors } from './http/client-error.ts';
import { createEventStreams } from './http/sse.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createOpsStore } from './ops-store.ts';
import { createPaymentActors } from './payments/payment-actors.ts';
import { createCancelService } from './payments/cancel-payment.ts';
import { OrderCache } from './payments/order-cache.ts';
import { createPaymentService } from './payments/create-payment.ts';
import { PaymentHost } from './payments/payment-host.ts';
import { createReconciler } from './payments/reconciler.ts';
import { startScheduler } from './payments/scheduler.ts';
import { retryPolicyFrom } from './payments/retry-policy.ts';
import { createSnapshotReader } from './payments/snapshot-reader.ts';
import { recordTransitionEffects } from './payments/transition-effects.ts';
import { startInspectorRelay } from './inspect/inspector-relay.ts';
import { createPaymentInspector } from './inspect/payment-inspector.ts';
import { createMockPgControls } from './pg/mock-pg-controls.ts';
import { createPgClient } from './pg/pg-client.ts';
import { createSettlementRunner } from './settlement/settlement-runner.ts';
import { startSettlementSchedule } from './settlement/settlement-schedule.ts';
import { createSettlementSteps } from './settlement/settlement-steps.ts';
import { settlementMachine } from '../machines/settlement.machine.ts';

/** A PG that refuses our credentials pages someone at most this often. */
const PG_AUTH_ALERT_QUIET_MS = 10 * 60_000;
/** A settlement run still failing after this many tries in a row raises an urgent alert. */
const SETTLEMENT_URGENT_AFTER = 5;
/** Operators watching the live figures at once (admin only; apart from the public streams). */
const FIGURE_STREAMS = 100;
/** How long a stopping service lets requests under way finish before it cuts their connections. */
const REQUESTS_GRACE_MS = 5_000;

export interface RunningService {
  url: string;
  /** The Stately inspector's bridge page, with INSPECT=1. */
  inspectorUrl: string | undefined;
  host: PaymentHost;
  /** The service's database (tests read committed rows through it, in either dialect). */
  db: Database;
  stop(): Promise<void>;
}

/** The composition root: every dependency is built and wired here, once. */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const clock = Date.now;
  const db = config.DATABASE_URL
    ? await openPostgres(config.DATABASE_URL, {
        poolSize: config.DATABASE_POOL_SIZE,
        lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
        onIdleError: (error) => logger.warn({ err: error }, 'an idle PostgreSQL connection broke; the pool opens a new one'),
      })
    : openDatabase(config.DATABASE_PATH, config.SQLITE_SYNCHRONOUS, config.SQLITE_BUSY_TIMEOUT_MS);
  const ops = createOpsStore();
  // The gauge reads the PG client's queue when scraped, long after both exist.
  const metrics = createMetrics(db.read, ops, () => pg.queued);
  const onAuthFailure = createPgAuthAlarm({ db, clock, logger, quietMs: PG_AUTH_ALERT_QUIET_MS });
  const pg = createPgClient({
    baseUrl: config.PG_BASE_URL,
    secret: config.PG_SECRET,
    storeId: config.PG_STORE_ID,
    timeoutMs: config.PG_TIMEOUT_MS,
    connections: config.PG_CONNECTIONS,
    queueTimeoutMs: config.PG_QUEUE_TIMEOUT_MS,
    logger,
    onQueueWait: (operation, outcome, seconds) => metrics.recordPgQueueWait(operation, outcome, seconds),
    onAuthFailure,
    onCall: (operation, outcome, seconds) => {
      metrics.recordPgCall(operation, outcome, seconds);
      const answered = /^\d+$/.test(outcome) && Number(outcome) < 500;
      ops.trigger[answered ? 'pgAnswered' : 'pgUnreachable']({ at: clock() });
    },
  });
  const owner = config.INSTANCE_ID;
  const retry = retryPolicyFrom(config);
  const relay = config.INSPECT ? await startInspectorRelay(config.INSPECT_PORT, logger) : undefined;
  const inspector = relay
    ? createPaymentInspector({ url: relay.publishUrl, paymentIds: config.INSPECT_PAYMENTS, sampleRate: config.INSPECT_SAMPLE })
    : undefined;
  const orders = new OrderCache(db.read);
  const machine = paymentMachine.provide({ actors: createPaymentActors({ db, pg, clock, logger, owner, orders }) });
  const host = new PaymentHost({
    db,
    orders,
    machine,
    clock,
    logger,
    ops,
    owner,
    leaseTtlMs: config.LEASE_TTL_MS,
    readSnapshot: createSnapshotReader(retry),
    onTransitions: async (tx, write, orderOf) => {
      await recordTransitionEffects(tx, write);
      await recordStatusEvents(tx, write, orderOf);
    },
    onCreated: recordCreatedEvent,
    inspectorFor: inspector?.inspectorFor,
  });
  const createPayment = createPaymentService({ db, host, retry, clock });
  const reconciler = createReconciler({
    db,
    host,
    clock,
    owner,
    stuckAfterMs: config.STUCK_AFTER_MS,
    cron: config.RECONCILE_CRON,
    batchSize: config.RECONCILE_BATCH,
    logger,
  });

  const leaseRenewal = setInterval(() => {
    host.renewLeases().catch((error: unknown) => logger.error({ err: error }, 'lease renewal failed'));
  }, Math.max(1, Math.floor(config.LEASE_TTL_MS / 3)));
  const scheduler = startScheduler({ db, host, clock, owner, intervalMs: config.SCHEDULER_INTERVAL_MS, logger });
  const alertRelay = startAlertRelay({
    db,
    webhookUrl: config.ALERT_WEBHOOK_URL,
    clock,
    pollMs: config.ALERT_POLL_MS,
    logger,
  });
  const inbox = createInbox(createPayment);
  const failedEvents = createFailedEventActions({
    db,
    host,
    clock,
    reprocessInbound: async (payload) => {
      await inbox.receiveRaw(payload);
    },
  });
  const webhookRelay = startWebhookRelay({
    db,
    lockWaitMs: config.DATABASE_URL ? config.DATABASE_LOCK_TIMEOUT_MS : config.SQLITE_BUSY_TIMEOUT_MS,
    clock,
    logger,
    owner,
    retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    pollMs: config.WEBHOOK_POLL_MS,
  });
  const settlementRunner = createSettlementRunner({
    db,
    machine: settlementMachine.provide({
      actors: createSettlementSteps({ db, pg, clock, timeZone: config.SETTLEMENT_TIME_ZONE, logger, owner }),
    }),
    retry: { baseMs: config.RETRY_BASE_MS, capMs: config.RETRY_CAP_MS, urgentAfter: SETTLEMENT_URGENT_AFTER },
    clock,
    logger,
    owner,
    leaseTtlMs: config.LEASE_TTL_MS,
    pollMs: config.SETTLEMENT_POLL_MS,
  });
  const settlementSchedule = await startSettlementSchedule({
    db,
    runner: settlementRunner,
    cron: config.SETTLEMENT_CRON,
    timeZone: config.SETTLEMENT_TIME_ZONE,
    clock,
    logger,
  });
  const names = { exchange: config.AMQP_EXCHANGE, inbox: config.AMQP_INBOX_QUEUE };
  const amqp = config.AMQP_URL
    ? await startAmqpBridge({
        url: config.AMQP_URL,
        names,
        publisher: createAmqpPublisher({ db, clock, logger, owner, exchange: names.exchange }),
        consumer: createAmqpConsumer({
          db,
          clock,
          logger,
          inbox,
          names,
          maxRetries: config.AMQP_MAX_RETRIES,
          retryDelayMs: config.AMQP_RETRY_DELAY_MS,
        }),
        pollMs: config.WEBHOOK_POLL_MS,
        logger,
      })
    : undefined;
  const streams = { payments: createEventStreams(config.SSE_MAX_STREAMS), figures: createEventStreams(FIGURE_STREAMS) };
  const app = createApp({
    db,
    host,
    pg,
    createPayment,
    cancelPayment: createCancelService({ db, host }),
    reconciler,
    failedEvents,
    inbox,
    settlements: { runner: settlementRunner, timeZone: config.SETTLEMENT_TIME_ZONE, runWaitMs: config.SETTLEMENT_RUN_WAIT_MS },
    metrics,
    ops,
    streams,
    mockPg: config.PG_MOCK_CONTROLS ? createMockPgControls({ baseUrl: config.PG_BASE_URL, secret: config.PG_SECRET }) : undefined,
    adminToken: config.ADMIN_TOKEN,
    webhookSecret: config.PG_WEBHOOK_SECRET,
    // Its lookup waits at most for a connection and then for the PG; a little more for the commit.
    webhookClaimMs: config.PG_QUEUE_TIMEOUT_MS + config.PG_TIMEOUT_MS + 5_000,
    clock,
    logger,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
    answerParserErrors(s, logger);
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  // A crashed process's payments do not wait for STUCK_AFTER_MS: our previous
  // incarnation's resume now, then those whose lease is free or expired if no other
  // process's pass is under way (while requests are served).
  const own = await reconciler.resumeOwn();
  const recovered = await reconciler.runPass();
  if (own + recovered.resumed > 0) logger.info({ own, ...recovered }, 'resumed unfinished payments at start-up');
  reconciler.start();

  return {
    url: `http://${config.HOST}:${port}`,
    inspectorUrl: relay?.pageUrl,
    host,
    db,
    async stop() {
      await scheduler.stop();
      await reconciler.stop();
      await settlementSchedule.stop();
      clearInterval(leaseRenewal);
      await alertRelay.stop();
      await webhookRelay.stop();
      await amqp?.stop();
      // Requests under way may finish; event streams never would, so they end now, and
      // whatever still holds a connection after a moment is cut.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      streams.payments.endAll();
      streams.figures.endAll();
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), REQUESTS_GRACE_MS);
      await closed;
      clearTimeout(cut);
      await host.stop();
      await settlementRunner.stop();
      inspector?.stop();
      await relay?.stop();
      await pg.close();
      await db.close();
    },
  };
}
