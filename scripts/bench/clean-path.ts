import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listAllPayments, statusCounts, type PaymentView } from './api.ts';
import { databaseActivity, postgresServerPid, watchStatements, type DatabaseActivity } from './bench-postgres.ts';
import { watchCpu, type CpuUse } from './cpu-use.ts';
import { postApprovedPayments, type LoadResult } from './load.ts';
import type { PartContext } from './options.ts';
import { waitUntil } from './poll.ts';
import { ADMIN_TOKEN } from './credentials.ts';
import { startServiceStack, withScope, type Scope, type ServiceStack } from './stack.ts';
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

export interface CleanPartResult extends CleanPathResult {
  /** From the first request until every payment completed. */
  cpu: CpuUse;
  /** On PostgreSQL: its transactions in that time (group-commit batches, reads outside them, retries). */
  postgres?: DatabaseActivity;
}

export interface EventsResult extends CleanPathResult {
  /** Webhook deliveries the merchant's endpoint answered 2xx (two events per clean payment). */
  eventsDelivered: number;
  /** From the first 202 until the last event reached the merchant. */
  allDeliveredSeconds: number;
}

/**
 * Every payment with `bk_test_ok`: the PG always approves at once, so only the cost of the
 * service and its database shows. The CPU of every process is read before and after.
 */
export function runCleanPath(context: PartContext): Promise<CleanPartResult> {
  return withScope(async (scope) => {
    const stack = await startServiceStack(scope, 'clean', context);
    const postgresUrl = stack.database.DATABASE_URL;
    const activityBefore = postgresUrl ? await databaseActivity(postgresUrl) : undefined;
    const statements = postgresUrl ? await watchStatements(postgresUrl) : undefined;
    const cpu = watchCpu({
      services: stack.services.map((s) => s.proc.child.pid!),
      mock: stack.mock.proc.child.pid!,
      postgres: postgresUrl ? postgresServerPid() : undefined,
    });
    const load = await postApprovedPayments(stack.urls, stack.products, context, 'clean');
    await waitForCompletion(stack);
    const used = cpu();
    const activityAfter = postgresUrl ? await databaseActivity(postgresUrl) : undefined;
    await statements?.(load.accepted.length);
    return {
      ...summarize(context, load, await listAllPayments(stack.anyUrl())),
      cpu: used,
      ...(activityBefore && activityAfter ? { postgres: activityGrowth(activityBefore, activityAfter) } : {}),
    };
  });
}

function activityGrowth(before: DatabaseActivity, after: DatabaseActivity): DatabaseActivity {
  return { commits: after.commits - before.commits, rollbacks: after.rollbacks - before.rollbacks, deadlocks: after.deadlocks - before.deadlocks };
}

/** /metrics counts by status with one indexed query (the whole database's): cheap enough to poll under load. */
function waitForCompletion(stack: ServiceStack): Promise<void> {
  return waitUntil('every payment to finish', async () => (await statusCounts(stack.anyUrl())).processing === 0, 180_000, 250);
}

/** A merchant's endpoint that takes every delivery (204) and counts them. */
async function startCountingReceiver(scope: Scope): Promise<{ url: string; count: () => number }> {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, count: () => received };
}

/** The clean path with one merchant endpoint taking every event: what the events cost. */
export function runCleanPathWithWebhooks(context: PartContext): Promise<EventsResult> {
  return withScope(async (scope) => {
    const stack = await startServiceStack(scope, 'events', context);
    const { url, products } = stack;
    const receiver = await startCountingReceiver(scope);
    const registered = await fetch(`${url}/v1/admin/webhook-endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, events: ['*'] }),
    });
    if (registered.status !== 201) throw new Error(`registering the endpoint answered ${registered.status}`);

    const load = await postApprovedPayments(stack.urls, products, context, 'events');
    await waitForCompletion(stack);
    const expected = 2 * load.accepted.length;
    await waitUntil('every event to reach the merchant', async () => receiver.count() >= expected, 180_000, 100);
    const allDeliveredSeconds = round((Date.now() - load.startedAt) / 1000);
    return { ...summarize(context, load, await listAllPayments(url)), eventsDelivered: receiver.count(), allDeliveredSeconds };
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
