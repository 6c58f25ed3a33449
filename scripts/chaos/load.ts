import { setTimeout as sleep } from 'node:timers/promises';
import { problemCode, type HttpClient, type Reply } from './http-client.ts';
import { reusedBody, type CancelPlan, type LoadPlan, type PurchaseBody, type PurchasePlan } from './plan.ts';
import { increment, type RunStats } from './stats.ts';
import { createWorkQueue } from './work-queue.ts';

export interface AcceptedCancel {
  paymentId: string;
  key: string;
  amount: number;
  /** Undefined: the whole amount. */
  requested: number | undefined;
}

export interface LoadResult {
  /** Idempotency key → the payment id the service answered with. */
  acknowledged: Map<string, string>;
  acceptedCancels: AcceptedCancel[];
}

export interface PaymentResource {
  id: string;
  status: string;
  amount: number;
  cancelledAmount: number;
  failureCode: string | null;
}

export interface LoadOptions {
  http: HttpClient;
  plan: LoadPlan;
  stats: RunStats;
  concurrency: number;
  /** How long a payment picked for a cancel may take to leave `processing`. */
  settleDeadlineMs: number;
}

const POLL_MS = 1_000;

interface CancelJob {
  purchase: PurchasePlan;
  cancel: CancelPlan;
  paymentId: string;
}

const isReplayed = (reply: Reply) => reply.headers['idempotent-replayed'] === 'true';
const idOf = (reply: Reply) => (reply.body as { id?: unknown } | undefined)?.id;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Buys every planned purchase with `concurrency` workers, checks the replayed and reused keys
 * on the way, and cancels the picked purchases once they complete (a second pool of workers,
 * so slow payments do not hold up the purchases).
 */
export async function runLoad({ http, plan, stats, concurrency, settleDeadlineMs }: LoadOptions): Promise<LoadResult> {
  const acknowledged = new Map<string, string>();
  const acceptedCancels: AcceptedCancel[] = [];
  const cancelJobs = createWorkQueue<CancelJob>();
  stats.purchases.planned = plan.purchases.length;
  stats.replays.planned = plan.purchases.filter((p) => p.duplicate === 'replay_after' || p.duplicate === 'replay_concurrent').length;
  stats.reuses.planned = plan.purchases.filter((p) => p.duplicate === 'reuse').length;
  stats.cancels.planned = plan.purchases.filter((p) => p.cancel).length;

  const post = (purchase: PurchasePlan, body: PurchaseBody = purchase.body) =>
    http.send('POST', '/v1/payments', { body, headers: { 'idempotency-key': purchase.key } });

  function acceptedId(purchase: PurchasePlan, reply: Reply): string | undefined {
    const id = idOf(reply);
    if (reply.status === 202 && typeof id === 'string') return id;
    stats.mismatches.push({
      kind: 'purchase_not_accepted',
      key: purchase.key,
      message: `purchase ${purchase.key} answered ${reply.status} ${problemCode(reply) ?? ''}`.trim(),
    });
    return undefined;
  }

  /** A replay must name the same payment, answer 202 and say it is a replay. */
  function checkReplay(purchase: PurchasePlan, id: string, reply: Reply, replayed: boolean): void {
    const problems = [
      reply.status !== 202 && `status ${reply.status} ${problemCode(reply) ?? ''}`.trim(),
      idOf(reply) !== id && `payment ${String(idOf(reply))} instead of ${id}`,
      !replayed && 'no Idempotent-Replayed: true',
    ].filter((problem) => problem !== false);
    if (problems.length === 0) {
      stats.replays.ok++;
      return;
    }
    stats.replays.mismatched++;
    stats.mismatches.push({ kind: 'replay_mismatch', key: purchase.key, paymentId: id, message: `replay of ${purchase.key}: ${problems.join(', ')}` });
  }

  /** A double submit: both requests in flight at once must end on one payment. */
  async function purchaseTwiceAtOnce(purchase: PurchasePlan): Promise<string | undefined> {
    const [first, second] = await Promise.all([post(purchase), post(purchase)]);
    const id = acceptedId(purchase, first);
    if (id !== undefined) checkReplay(purchase, id, second, isReplayed(first) || isReplayed(second));
    return id;
  }

  async function replayAfter(purchase: PurchasePlan, id: string): Promise<void> {
    try {
      const reply = await post(purchase);
      checkReplay(purchase, id, reply, isReplayed(reply));
    } catch (error) {
      stats.replays.mismatched++;
      stats.mismatches.push({ kind: 'replay_mismatch', key: purchase.key, paymentId: id, message: messageOf(error) });
    }
  }

  async function reuseKey(purchase: PurchasePlan, id: string): Promise<void> {
    let problem: string;
    try {
      const reply = await post(purchase, reusedBody(purchase.body));
      const code = problemCode(reply);
      if (reply.status === 422 && code === 'idempotency_key_reused') {
        stats.reuses.ok++;
        return;
      }
      problem = `a different body under ${purchase.key} answered ${reply.status} ${code ?? String(idOf(reply))}`;
    } catch (error) {
      problem = messageOf(error);
    }
    stats.reuses.mismatched++;
    stats.mismatches.push({ kind: 'reuse_not_refused', key: purchase.key, paymentId: id, message: problem });
  }

  async function purchase(purchase: PurchasePlan): Promise<void> {
    let id: string | undefined;
    try {
      id = purchase.duplicate === 'replay_concurrent' ? await purchaseTwiceAtOnce(purchase) : acceptedId(purchase, await post(purchase));
    } catch (error) {
      stats.mismatches.push({ kind: 'purchase_not_accepted', key: purchase.key, message: messageOf(error) });
    }
    if (id === undefined) {
      stats.purchases.notAccepted++;
      return;
    }
    stats.purchases.accepted++;
    acknowledged.set(purchase.key, id);
    if (purchase.duplicate === 'replay_after') await replayAfter(purchase, id);
    if (purchase.duplicate === 'reuse') await reuseKey(purchase, id);
    if (purchase.cancel) cancelJobs.push({ purchase, cancel: purchase.cancel, paymentId: id });
  }

  /** The payment once it has left `processing`; undefined if it did not in time. */
  async function settled(paymentId: string): Promise<PaymentResource | undefined> {
    const deadline = Date.now() + settleDeadlineMs;
    while (Date.now() < deadline) {
      const reply = await http.send('GET', `/v1/payments/${paymentId}`, { deadlineMs: deadline - Date.now() }).catch(() => undefined);
      const payment = reply?.status === 200 ? (reply.body as PaymentResource) : undefined;
      if (payment && payment.status !== 'processing') return payment;
      await sleep(POLL_MS);
    }
    return undefined;
  }

  async function cancelWhenCompleted({ purchase, cancel, paymentId }: CancelJob): Promise<void> {
    const payment = await settled(paymentId);
    if (payment?.status !== 'completed') {
      increment(stats.cancels.skipped, payment?.status ?? 'not settled');
      return;
    }
    const amount = cancel.kind === 'partial' ? Math.max(1, Math.floor(payment.amount * cancel.share)) : undefined;
    stats.cancels.sent++;
    let reply: Reply;
    try {
      reply = await http.send('POST', `/v1/payments/${paymentId}/cancel`, {
        body: { reason: 'chaos run: the customer changed their mind', ...(amount === undefined ? {} : { amount }) },
        headers: { 'idempotency-key': `${purchase.key}-cancel` },
      });
    } catch {
      increment(stats.cancels.errors, 'no answer');
      return;
    }
    const code = problemCode(reply);
    if (reply.status === 202) {
      stats.cancels.accepted++;
      acceptedCancels.push({ paymentId, key: purchase.key, amount: payment.amount, requested: amount });
    } else if ((reply.status === 409 && code === 'invalid_state') || (reply.status === 422 && code === 'amount_exceeds_cancellable')) {
      increment(stats.cancels.refused, code);
    } else {
      // Also a 404/405 while the endpoint does not exist yet: an error to report, not a crash.
      increment(stats.cancels.errors, `${reply.status} ${code ?? '(no code)'}`);
    }
  }

  let next = 0;
  const purchasers = Array.from({ length: Math.min(concurrency, plan.purchases.length) }, async () => {
    while (next < plan.purchases.length) await purchase(plan.purchases[next++]!);
  });
  const cancellers = Array.from({ length: concurrency }, async () => {
    for (let job = await cancelJobs.next(); job; job = await cancelJobs.next()) await cancelWhenCompleted(job);
  });
  try {
    await Promise.all(purchasers);
  } finally {
    cancelJobs.close();
  }
  await Promise.all(cancellers);
  return { acknowledged, acceptedCancels };
}
