import { join } from 'node:path';
import { anyProcessing, createProducts, mockLedger, setChaos, statusCounts } from './api.ts';
import { paymentBody, postPayments } from './load.ts';
import type { PartContext } from './options.ts';
import { pollUntil, waitUntil } from './poll.ts';
import { PRODUCTS, startMockPg, startService, tempDir, withScope } from './stack.ts';
import { round } from './stats.ts';

export interface RecoveryResult {
  /** Payments in flight (charge sent, no answer yet) when the service was killed. */
  payments: number;
  /** From spawning the restarted service to no payment in `processing`, or to giving up (see `settled`). */
  seconds: number;
  /** False when payments were still in processing at the time limit. */
  settled: boolean;
  stillProcessing: number;
  /** The part of it before the restarted service printed "listening". */
  listeningSeconds: number;
  completed: number;
}

const INSTANCE_ID = 'bench-recovery';
/** Twelve times the target: a service that has not recovered by then is reported as not settled. */
const RECOVERY_LIMIT_MS = 120_000;

/**
 * N payments are killed mid-charge and must all come to rest after a restart.
 *
 * Every charge hangs at the mock for `delayMs`, long enough for all N to be sent. The
 * first incarnation gets a PG timeout above that delay and a connection per payment, so
 * every payment sits in `charging` with its call actually held by the PG (not queued in
 * the client pool) when it is SIGKILLed. Then the delays run out and the mock's ledger
 * shows every charge PAID, as a real PG finishes calls whose client vanished. (A charge
 * still pending at the PG would keep its payment in inquiry whatever the service does,
 * and a fresh mock would not know the charges at all: neither measures the service.)
 * The restart uses the same INSTANCE_ID and default settings: each payment resumes its
 * charge step, finds the attempt already started, asks the PG, and finishes.
 */
export function runRecovery(context: PartContext): Promise<RecoveryResult> {
  return withScope(async (scope) => {
    const dir = tempDir(scope, 'recovery');
    const databasePath = join(dir, 'paystate.db');
    const delayMs = 5_000 + context.payments * 4;
    const mock = await startMockPg(scope, ['--failure-rate', '0', '--delay-rate', '1', '--delay-ms', String(delayMs)]);
    const pgUrl = mock.proc.url;

    const first = await startService(scope, {
      databasePath,
      pgUrl,
      env: { INSTANCE_ID, PG_TIMEOUT_MS: String(delayMs + 60_000), PG_CONNECTIONS: String(context.payments + 64) },
    });
    const products = await createProducts(first.proc.url, PRODUCTS, Math.ceil(context.payments / PRODUCTS) + 1);
    const load = await postPayments(first.proc.url, {
      count: context.payments,
      concurrency: context.concurrency,
      timeLimitMs: delayMs - 2_000,
      keyPrefix: 'recovery',
      body: (i) => paymentBody(i, products, `bk_bench_${i}`),
    });
    const accepted = load.accepted.length;
    const pendingAtPg = async () => (await mockLedger(pgUrl)).filter((e) => e.status === 'PENDING').length;
    await waitUntil('every charge to reach the mock PG', async () => (await pendingAtPg()) >= accepted, delayMs, 500);
    const inFlight = (await statusCounts(first.proc.url)).processing;
    if (Date.now() - load.startedAt >= delayMs - 1_000) {
      throw new Error(`recovery: creating ${accepted} payments took longer than the PG delay of ${delayMs} ms; some may have finished`);
    }
    await first.crash();

    await setChaos(pgUrl, { delayRate: 0 });
    await waitUntil(
      'the mock PG to finish the charges of the killed service',
      async () => (await mockLedger(pgUrl)).filter((e) => e.status === 'PAID').length >= accepted,
      delayMs + 60_000,
      500,
    );

    const restartedAt = performance.now();
    const second = await startService(scope, { databasePath, pgUrl, env: { INSTANCE_ID }, profile: context.profile });
    const listeningSeconds = (performance.now() - restartedAt) / 1000;
    const settled = await pollUntil(async () => !(await anyProcessing(second.proc.url)), RECOVERY_LIMIT_MS, 100);
    const seconds = (performance.now() - restartedAt) / 1000;
    const counts = await statusCounts(second.proc.url);
    return {
      payments: inFlight,
      seconds: round(seconds),
      settled,
      stillProcessing: counts.processing,
      listeningSeconds: round(listeningSeconds),
      completed: counts.completed,
    };
  });
}
