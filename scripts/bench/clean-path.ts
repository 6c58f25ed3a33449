import { listAllPayments, statusCounts, type PaymentView } from './api.ts';
import { postApprovedPayments, type LoadResult } from './load.ts';
import type { PartContext } from './options.ts';
import { waitUntil } from './poll.ts';
import { startServiceStack, withScope } from './stack.ts';
import { perSecond, percentile, round } from './stats.ts';

export interface CleanPathResult {
  payments: number;
  concurrency: number;
  completed: number;
  /** Requests that did not get a 202 (or were never sent before the time limit). */
  errors: number;
  paymentsPerSec: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Ack → completed: the resource's updatedAt − createdAt (server clock; createdAt is committed just before the 202). */
  completeP50Ms: number;
  completeP99Ms: number;
}

/** Every payment with `bk_test_ok`: the PG always approves at once, so only the service's own cost shows. */
export function runCleanPath(context: PartContext): Promise<CleanPathResult> {
  return withScope(async (scope) => {
    const { url, products } = await startServiceStack(scope, 'clean', { payments: context.payments, profile: context.profile });

    const load = await postApprovedPayments(url, products, context, 'clean');
    // /metrics counts by status with one indexed query: cheap enough to poll under load.
    await waitUntil('every clean-path payment to finish', async () => (await statusCounts(url)).processing === 0, 180_000, 250);
    return summarize(context, load, await listAllPayments(url));
  });
}

function summarize(
  context: PartContext,
  load: LoadResult,
  payments: PaymentView[],
): CleanPathResult {
  const byId = new Map(payments.map((p) => [p.id, p]));
  const completeMs: number[] = [];
  let lastCompletedAt = load.startedAt;
  for (const ack of load.accepted) {
    const payment = byId.get(ack.paymentId!);
    if (payment?.status !== 'completed') continue;
    const completedAt = Date.parse(payment.updatedAt);
    completeMs.push(completedAt - Date.parse(payment.createdAt));
    lastCompletedAt = Math.max(lastCompletedAt, completedAt);
  }
  const ackMs = load.accepted.map((a) => a.ackMs);
  return {
    payments: context.payments,
    concurrency: context.concurrency,
    completed: completeMs.length,
    errors: context.payments - load.accepted.length,
    paymentsPerSec: round(perSecond(completeMs.length, lastCompletedAt - load.startedAt)),
    ackP50Ms: round(percentile(ackMs, 50)),
    ackP99Ms: round(percentile(ackMs, 99)),
    completeP50Ms: round(percentile(completeMs, 50)),
    completeP99Ms: round(percentile(completeMs, 99)),
  };
}
