import { setTimeout as sleep } from 'node:timers/promises';
import { atRest, listAllPayments, mockLedger, statusCounts, type LedgerEntry, type PaymentView } from './api.ts';
import { paymentBody, postPayments, type LoadResult } from './load.ts';
import type { PartContext } from './options.ts';
import { startServiceStack, withScope } from './stack.ts';
import { perSecond, percentile, round } from './stats.ts';

/** One load against a fresh stack whose mock PG holds a third of the charges. */
export interface ChaosPhase {
  payments: number;
  /** The load actually offered: payments sent per second. */
  sentPerSec: number;
  /** Payments whose charge the mock PG held back for DELAY_MS. */
  delayed: number;
  undelayed: number;
  undelayedRested: number;
  /** Undelayed payments still in flight when the window closed (counted in the percentiles at the window's end). */
  undelayedUnsettled: number;
  restedPerSec: number;
  /** Ack → rest: the resource's updatedAt − createdAt (server clock). */
  undelayedP50Ms: number;
  undelayedP99Ms: number;
  ackP99Ms: number;
  windowSeconds: number;
}

export interface ChaosResult {
  /** Closed loop at the bench's concurrency: how many payments/s come to rest. */
  restedPerSec: number;
  /** At the paced phase's steady load: what a delayed third costs the other payments. */
  undelayedP99Ms: number;
  saturated: ChaosPhase;
  /** `offeredPerSec` is the rate asked for; `sentPerSec` the one achieved. */
  paced: ChaosPhase & { offeredPerSec: number };
}

const DELAY_MS = 60_000;
/**
 * The window closes before the first delayed charge can be answered, so that "PENDING at
 * the mock" still means "delayed", and no delayed payment can come to rest inside it.
 */
const WINDOW_MS = 55_000;
/**
 * The paced phase's offered load: about a third of the clean path's capacity on this
 * machine, so its latency shows the delayed payments' cost rather than CPU queueing.
 */
export const PACED_PER_SEC = 400;

/**
 * A third of the charges hang for 60 s (the mock's delay; no failures) while the service
 * keeps its default PG_TIMEOUT_MS: delayed payments go to inquiry and wait; the rest must
 * not notice. Two phases, each on a fresh stack: a saturating closed loop measures
 * throughput, whose latency is mostly queueing for the CPU; an open loop at
 * PACED_PER_SEC measures the latency of the undelayed payments.
 */
export async function runChaos(context: PartContext): Promise<ChaosResult> {
  const saturated = await runPhase(context, 'chaos', { concurrency: context.concurrency });
  const paced = await runPhase(context, 'chaos-paced', { concurrency: context.concurrency, ratePerSec: PACED_PER_SEC });
  return {
    restedPerSec: saturated.restedPerSec,
    undelayedP99Ms: paced.undelayedP99Ms,
    saturated,
    paced: { ...paced, offeredPerSec: PACED_PER_SEC },
  };
}

function runPhase(context: PartContext, name: string, load: { concurrency: number; ratePerSec?: number }): Promise<ChaosPhase> {
  return withScope(async (scope) => {
    // Both phases' profiles land in the part's directory, one file per process.
    const { mock, url, products } = await startServiceStack(scope, name, context, {
      mockFlags: ['--failure-rate', '0', '--delay-rate', '0.33', '--delay-ms', String(DELAY_MS)],
    });

    const loaded = await postPayments([url], {
      count: context.payments,
      ...load,
      timeLimitMs: 30_000,
      keyPrefix: name,
      body: (i) => paymentBody(i, products, `bk_bench_${i}`),
    });
    const closedAt = await waitForUndelayed(url, mock.proc.url, loaded);
    return summarize(loaded, await listAllPayments(url), await mockLedger(mock.proc.url), closedAt);
  });
}

/**
 * Polls until every accepted payment is at rest or pending at the mock (delayed), or the
 * window closes. The ledger is only read once the rested count stops moving for a second.
 */
async function waitForUndelayed(url: string, pgUrl: string, load: LoadResult): Promise<number> {
  const closeAt = load.startedAt + WINDOW_MS;
  let rested = -1;
  let steadySince = Date.now();
  while (Date.now() < closeAt) {
    const counts = await statusCounts(url);
    if (counts.rested !== rested) {
      rested = counts.rested;
      steadySince = Date.now();
    } else if (Date.now() - steadySince >= 1000) {
      const pending = (await mockLedger(pgUrl)).filter((e) => e.status === 'PENDING').length;
      if (rested + pending >= load.accepted.length) break;
      steadySince = Date.now();
    }
    await sleep(250);
  }
  return Math.min(Date.now(), closeAt);
}

function summarize(
  load: LoadResult,
  payments: PaymentView[],
  ledger: LedgerEntry[],
  closedAt: number,
): ChaosPhase {
  const byId = new Map(payments.map((p) => [p.id, p]));
  const delayedIds = new Set(
    ledger
      .filter((e) => e.status === 'PENDING' || Date.parse(e.updatedAt) - Date.parse(e.requestedAt) >= DELAY_MS - 1000)
      .map((e) => e.paymentId),
  );
  const latencies: number[] = [];
  let rested = 0;
  let lastRestAt = load.startedAt;
  let undelayed = 0;
  for (const ack of load.accepted) {
    if (delayedIds.has(ack.paymentId!)) continue;
    undelayed++;
    const payment = byId.get(ack.paymentId!)!;
    const createdAt = Date.parse(payment.createdAt);
    if (atRest(payment.status)) {
      const restAt = Date.parse(payment.updatedAt);
      rested++;
      lastRestAt = Math.max(lastRestAt, restAt);
      latencies.push(restAt - createdAt);
    } else {
      latencies.push(closedAt - createdAt);
    }
  }
  return {
    payments: load.accepted.length,
    sentPerSec: round(load.sentPerSec),
    delayed: load.accepted.length - undelayed,
    undelayed,
    undelayedRested: rested,
    undelayedUnsettled: undelayed - rested,
    restedPerSec: round(perSecond(rested, lastRestAt - load.startedAt)),
    undelayedP50Ms: round(percentile(latencies, 50)),
    undelayedP99Ms: round(percentile(latencies, 99)),
    ackP99Ms: round(percentile(load.accepted.map((a) => a.ackMs), 99)),
    windowSeconds: round((closedAt - load.startedAt) / 1000),
  };
}
