import { setTimeout as sleep } from 'node:timers/promises';
import { anyProcessing, atRest, getPayment, mockLedger, setChaos, statusCounts } from './api.ts';
import { paymentBody, postPayments, type LoadResult } from './load.ts';
import type { PartContext } from './options.ts';
import { pollUntil, waitUntil } from './poll.ts';
import {
  databaseFor,
  instanceId,
  startMockPg,
  startService,
  startServices,
  stockProducts,
  withScope,
  type Scope,
  type ServiceOptions,
  type Started,
} from './stack.ts';
import { round } from './stats.ts';

export interface RecoveryResult {
  /** Payments in flight (charge sent, no answer yet) when the service was killed. */
  payments: number;
  /**
   * One process: from spawning the restarted service to no payment in `processing`. Several:
   * from the SIGKILL of one of them to no payment in `processing`. Or to giving up (see `settled`).
   */
  seconds: number;
  /** False when payments were still in processing at the time limit. */
  settled: boolean;
  stillProcessing: number;
  completed: number;
  /** One process: the part of `seconds` before the restarted service printed "listening". */
  listeningSeconds?: number;
  /** Several processes: how the others took over the killed one's payments. */
  takeover?: Takeover;
}

export interface Takeover {
  processes: number;
  /** The killed process's share of the payments in flight: only another process can finish them. */
  killedInFlight: number;
  /** From the SIGKILL until the mock PG had answered every charge (its delay, not the service's work); null if it never did. */
  pgAnsweredSeconds: number | null;
  /** From the SIGKILL until the first of a sample of the killed process's payments came to rest; null if none did. */
  firstTakenOverSeconds: number | null;
}

/** Twelve times the single-process target: a service that has not recovered by then is reported as not settled. */
const RECOVERY_LIMIT_MS = 120_000;
/** Payments of the killed process watched one by one for the first takeover. */
const WATCHED = 20;

/**
 * N payments are killed mid-charge and must all come to rest.
 *
 * Every charge hangs at the mock PG, long enough for all N to be sent. The services get a
 * PG timeout above that delay and a connection per payment, so every payment sits in
 * `charging` with its call actually held by the PG (not queued in the client pool) when a
 * process is SIGKILLed. Then the delays run out and the mock's ledger shows every charge
 * PAID, as a real PG finishes calls whose client vanished. (A charge still pending at the
 * PG would keep its payment in inquiry whatever the service does, and a fresh mock would
 * not know the charges at all: neither measures the service.)
 *
 * One process (`--instances 1`): it restarts with the same INSTANCE_ID and default
 * settings once the PG has answered: each payment resumes its charge step, finds the
 * attempt already started, asks the PG, and finishes. Several: the requests go round
 * robin over them, one is killed and not restarted, and the others must take its
 * payments over (see takeOver).
 */
export function runRecovery(context: PartContext): Promise<RecoveryResult> {
  return withScope(async (scope) => {
    const takingOver = context.setup.instances > 1;
    // Several processes on one database create payments more slowly than one (they share the
    // cores), and slower as their payments pile up in memory: on a slow day PostgreSQL x3 sent
    // 9,776 of 10,000 in 5 ms each. The figure is timed from the kill, not from here.
    const budgetMs = takingOver ? 15_000 + context.payments * 7 : 5_000 + context.payments * 4;
    const mock = await startMockPg(scope, ['--failure-rate', '0', '--delay-rate', '1', '--delay-ms', String(budgetMs)]);
    const pgUrl = mock.proc.url;
    const base: ServiceOptions = {
      database: await databaseFor(scope, 'recovery', context.setup.database),
      pgUrl,
      env: context.serviceEnv,
    };
    const holding = { PG_TIMEOUT_MS: String(budgetMs + 60_000), PG_CONNECTIONS: String(context.payments + 64) };
    // Only processes that exit cleanly write a profile: the restarted one, or the survivors.
    const services = await startServices(scope, context.setup.instances, 'recovery', {
      ...base,
      env: { ...holding, ...base.env },
      profile: takingOver ? context.profile : undefined,
    });
    const urls = services.map((s) => s.proc.url);
    const products = await stockProducts(urls[0]!, context);
    const answersDueAt = Date.now() + budgetMs;
    const sendBy = answersDueAt - 1_000;
    const pacing = takingOver ? answerTogether(scope, pgUrl, answersDueAt) : undefined;
    const load = await postPayments(urls, {
      count: context.payments,
      concurrency: context.concurrency,
      timeLimitMs: budgetMs - 2_000,
      keyPrefix: 'recovery',
      body: (i) => paymentBody(i, products, `bk_bench_${i}`),
    });
    const accepted = load.accepted.length;
    const pendingAtPg = async () => (await mockLedger(pgUrl)).filter((e) => e.status === 'PENDING').length;
    const reached = await pollUntil(async () => (await pendingAtPg()) >= accepted, sendBy - Date.now(), 500);
    await pacing?.stop();
    const inFlight = (await statusCounts(urls[0]!)).processing;
    if (!reached || Date.now() >= sendBy) {
      throw new Error(`recovery: ${accepted} payments did not all reach the PG within its delay of ${budgetMs} ms; some may have finished`);
    }
    const allPaid = async () => (await mockLedger(pgUrl)).filter((e) => e.status === 'PAID').length >= accepted;
    if (takingOver) {
      await sleep(sendBy - Date.now());
      return takeOver(services, load, inFlight, allPaid);
    }

    await services[0]!.crash();
    await setChaos(pgUrl, { delayRate: 0 });
    await waitUntil('the mock PG to finish the charges of the killed service', allPaid, budgetMs + 60_000, 500);
    return restart(scope, { ...base, env: { ...base.env, INSTANCE_ID: instanceId('recovery', 0) }, profile: context.profile }, inFlight);
  });
}

/**
 * Keeps the mock's delay at "until `dueAt`" while payments are sent, so the PG answers
 * every charge at about that moment, however long the sending took: the kill can come
 * just before, and the time after it measures the service rather than the mock's delay.
 */
function answerTogether(scope: Scope, pgUrl: string, dueAt: number): { stop(): Promise<void> } {
  let stopped = false;
  const pacing = (async () => {
    while (!stopped) {
      await setChaos(pgUrl, { delayMs: Math.max(0, dueAt - Date.now()) });
      await sleep(200);
    }
  })();
  const stop = async () => {
    stopped = true;
    await pacing;
  };
  // Also when the part fails: before the mock stops (cleanups run in reverse), so no call outlives it.
  scope.defer(() => stop().catch(() => undefined));
  return { stop };
}

/** The same INSTANCE_ID again: it takes its own leases back at once. */
async function restart(scope: Scope, options: ServiceOptions, inFlight: number): Promise<RecoveryResult> {
  const restartedAt = performance.now();
  const second = await startService(scope, options);
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
}

/**
 * The first process is SIGKILLed a second before the PG answers every charge, and stays
 * dead. The others finish their own payments as the answers come; the killed one's are
 * leased to it, so they may run them only once the leases expire (LEASE_TTL_MS after its
 * last renewal), when the survivors' schedulers find them on their next tick.
 */
async function takeOver(services: Started[], load: LoadResult, inFlight: number, allPaid: () => Promise<boolean>): Promise<RecoveryResult> {
  const [victim, ...survivors] = services;
  const killedIds = load.accepted.filter((a) => a.instance === 0).map((a) => a.paymentId!);
  let turn = 0;
  const anySurvivor = () => survivors[turn++ % survivors.length]!.proc.url;

  const killedAt = performance.now();
  const since = () => round((performance.now() - killedAt) / 1000);
  await victim!.crash();

  let pgAnsweredSeconds: number | null = null;
  // Settles however the part ends: a failed part stops the mock, and this must not outlive it as an unhandled rejection.
  const pgAnswered = pollUntil(allPaid, 60_000, 250).then(
    (done) => {
      if (done) pgAnsweredSeconds = since();
    },
    () => undefined,
  );
  let firstTakenOverSeconds: number | null = null;
  const watched = killedIds.filter((_, i) => i % Math.max(1, Math.floor(killedIds.length / WATCHED)) === 0);
  const settled = await pollUntil(
    async () => {
      if (firstTakenOverSeconds === null && watched.length > 0) {
        const statuses = await Promise.all(watched.map(async (id) => (await getPayment(anySurvivor(), id)).status));
        if (statuses.some(atRest)) firstTakenOverSeconds = since();
      }
      return !(await anyProcessing(anySurvivor()));
    },
    RECOVERY_LIMIT_MS,
    250,
  );
  const seconds = since();
  await pgAnswered;
  const counts = await statusCounts(anySurvivor());
  return {
    payments: inFlight,
    seconds,
    settled,
    stillProcessing: counts.processing,
    completed: counts.completed,
    takeover: { processes: services.length, killedInFlight: killedIds.length, pgAnsweredSeconds, firstTakenOverSeconds },
  };
}
