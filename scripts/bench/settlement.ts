import { request } from 'undici';
import { dateAt } from '../../src/settlement/business-day.ts';
import { statusCounts } from './api.ts';
import { paymentBody, postApprovedPayments, postPayments, type Ack } from './load.ts';
import type { PartContext } from './options.ts';
import { waitUntil } from './poll.ts';
import { ADMIN_TOKEN } from './credentials.ts';
import { startServiceStack, withScope } from './stack.ts';
import { percentile, round } from './stats.ts';

/** Payments per second offered while measuring the API's latency, with and without a run. */
export const SETTLEMENT_LOAD_PER_SEC = 200;
/** How long the load without a run lasts; the load during the run lasts as long as the run. */
const IDLE_LOAD_SECONDS = 5;

export interface SettlementResult {
  /** Payments the day's settlement counted. */
  paymentsSettled: number;
  lines: number;
  /** From `POST /v1/admin/settlements/run` to its settlement completed (figures and the PG check). */
  runSeconds: number;
  /** Ack p99 of payments offered at SETTLEMENT_LOAD_PER_SEC without a run, then of those sent while the run ran. */
  ackP99IdleMs: number;
  ackP99DuringRunMs: number;
  ackMaxDuringRunMs: number;
  paymentsDuringRun: number;
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function adminCall<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
  const response = await request(url, { method, headers: admin, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface Settlement {
  id: string;
  status: string;
  paymentCount: number;
  refundCount: number;
}

/**
 * Settles a day of `context.payments` payments while payments keep coming at a steady
 * rate: how long the run takes, and what it does to the payment API's latency.
 */
export function runSettlement(context: PartContext): Promise<SettlementResult> {
  return withScope(async (scope) => {
    const extra = SETTLEMENT_LOAD_PER_SEC * IDLE_LOAD_SECONDS * 4;
    const { url, products } = await startServiceStack(scope, 'settlement', { ...context, payments: context.payments + extra }, {
      // The run request answers at once; the bench watches the settlement complete.
      env: { SETTLEMENT_RUN_WAIT_MS: '0' },
    });
    await adminCall('POST', `${url}/v1/admin/partners`, { id: 'bench-partner', name: 'Bench partner', feeRateBps: 300 });
    const day = await postApprovedPayments([url], products, context, 'settle-day');
    await waitUntil('the day’s payments to finish', async () => (await statusCounts(url)).processing === 0, 180_000, 250);
    const date = dateAt(Date.now(), 'Asia/Seoul');

    const paced = (keyPrefix: string, seconds: number) =>
      postPayments([url], {
        count: SETTLEMENT_LOAD_PER_SEC * seconds,
        concurrency: context.concurrency,
        ratePerSec: SETTLEMENT_LOAD_PER_SEC,
        timeLimitMs: seconds * 1000 + 5_000,
        keyPrefix,
        body: (i) => paymentBody(i, products, 'bk_test_ok'),
      });
    const idle = await paced('settle-idle', IDLE_LOAD_SECONDS);

    // The load runs longer than any run should; only the acks sent during the run count.
    const during = paced('settle-during', IDLE_LOAD_SECONDS * 3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const runStarted = Date.now();
    await adminCall('POST', `${url}/v1/admin/settlements/run`, { date });
    let settlement: Settlement | undefined;
    await waitUntil(
      'the settlement to complete',
      async () => {
        const { data } = await adminCall<{ data: Settlement[] }>('GET', `${url}/v1/admin/settlements?date=${date}&partnerId=bench-partner`);
        settlement = data[0];
        return settlement?.status === 'completed';
      },
      300_000,
      20,
    );
    const runEnded = Date.now();
    const duringAcks = (await during).accepted.filter((a: Ack) => a.sentAt >= runStarted && a.sentAt <= runEnded).map((a) => a.ackMs);
    const detail = await adminCall<{ lines: unknown[] }>('GET', `${url}/v1/admin/settlements/${settlement!.id}`);
    if (settlement!.paymentCount < day.accepted.length) {
      throw new Error(`the settlement counted ${settlement!.paymentCount} payments of ${day.accepted.length}`);
    }
    return {
      paymentsSettled: settlement!.paymentCount,
      lines: detail.lines.length,
      runSeconds: round((runEnded - runStarted) / 1000),
      ackP99IdleMs: round(percentile(idle.accepted.map((a) => a.ackMs), 99)),
      ackP99DuringRunMs: round(percentile(duringAcks, 99)),
      ackMaxDuringRunMs: round(Math.max(0, ...duringAcks)),
      paymentsDuringRun: duringAcks.length,
    };
  });
}
