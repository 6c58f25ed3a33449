import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { openDatabase } from '../db/connection.ts';
import { createGroupCommit } from '../db/group-commit.ts';
import { findInFlightNotWaiting } from '../db/payments-repo.ts';
import { paymentMachine, type RetryPolicy } from '../machines/payment.machine.ts';
import { PUBLIC_STATUSES, type PublicStatus } from '../machines/payment-status.ts';
import type { Config } from './config.ts';
import { createApp } from './http/app.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createOpsStore } from './ops-store.ts';
import { createPaymentActors } from './payments/payment-actors.ts';
import { createPaymentService } from './payments/create-payment.ts';
import { PaymentHost } from './payments/payment-host.ts';
import { startScheduler } from './payments/scheduler.ts';
import { createPgClient } from './pg/pg-client.ts';

const IN_FLIGHT: PublicStatus[] = ['processing', 'cancel_requested'];
const RESTING_STATUSES = PUBLIC_STATUSES.filter((s) => !IN_FLIGHT.includes(s));

export interface RunningService {
  url: string;
  host: PaymentHost;
  stop(): Promise<void>;
}

export function retryPolicyFrom(config: Config): RetryPolicy {
  return {
    baseMs: config.RETRY_BASE_MS,
    capMs: config.RETRY_CAP_MS,
    stepRetries: config.STEP_RETRIES,
    notFoundGraceMs: config.PG_NOT_FOUND_GRACE_MS,
    maxCharges: config.MAX_CHARGE_ATTEMPTS,
  };
}

/** The composition root: every dependency is built and wired here, once. */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const clock = Date.now;
  const conn = openDatabase(config.DATABASE_PATH, config.SQLITE_SYNCHRONOUS);
  const commit = createGroupCommit(conn.sqlite);
  const ops = createOpsStore();
  const metrics = createMetrics(conn.db, ops);
  const pg = createPgClient({
    baseUrl: config.PG_BASE_URL,
    secret: config.PG_SECRET,
    storeId: config.PG_STORE_ID,
    timeoutMs: config.PG_TIMEOUT_MS,
    connections: config.PG_CONNECTIONS,
    logger,
    onCall: (operation, outcome, seconds) => {
      metrics.recordPgCall(operation, outcome, seconds);
      const answered = /^\d+$/.test(outcome) && Number(outcome) < 500;
      ops.trigger[answered ? 'pgAnswered' : 'pgUnreachable']({ at: clock() });
    },
  });
  const machine = paymentMachine.provide({ actors: createPaymentActors({ conn, commit, pg, clock, logger }) });
  const host = new PaymentHost({ conn, commit, machine, clock, logger, ops });
  const createPayment = createPaymentService({ conn, host, retry: retryPolicyFrom(config), clock });

  // Payments a previous process left mid-step run that step again (each step is idempotent).
  const unfinished = findInFlightNotWaiting(conn.db, RESTING_STATUSES, Number.MAX_SAFE_INTEGER);
  for (const paymentId of unfinished) host.resume(paymentId);
  if (unfinished.length > 0) logger.info({ count: unfinished.length }, 'resumed unfinished payments');

  const scheduler = startScheduler({ db: conn.db, host, clock, intervalMs: config.SCHEDULER_INTERVAL_MS, logger });
  const app = createApp({ conn, host, createPayment, metrics, adminToken: config.ADMIN_TOKEN, clock, logger });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${config.HOST}:${port}`,
    host,
    async stop() {
      scheduler.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await host.stop();
      await pg.close();
      conn.sqlite.close();
    },
  };
}
