import type { HttpClient } from './http-client.ts';
import type { LoadResult, PaymentResource } from './load.ts';
import type { Mismatch } from './stats.ts';

const PAGE = 100;

export interface PaymentListing {
  payments: Map<string, PaymentResource>;
  /** False when there were more pages than the purchases could fill. */
  complete: boolean;
}

/** Every payment through the public list endpoint; the page count is capped so a bad cursor cannot loop. */
export async function listPayments(http: HttpClient, atMost: number): Promise<PaymentListing> {
  const payments = new Map<string, PaymentResource>();
  let cursor: string | null = null;
  for (let page = 0; page <= Math.ceil(atMost / PAGE); page++) {
    const query: string = `/v1/payments?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const reply = await http.send('GET', query);
    if (reply.status !== 200) throw new Error(`GET ${query} answered ${reply.status}`);
    const body = reply.body as { data: PaymentResource[]; nextCursor: string | null };
    for (const payment of body.data) payments.set(payment.id, payment);
    cursor = body.nextCursor;
    if (cursor === null) return { payments, complete: true };
  }
  return { payments, complete: false };
}

/**
 * What a client may expect once everything is at rest: each payment it was told about exists,
 * no payment exists that no answer named, and each accepted cancel took effect.
 */
export function checkClientExpectations({ payments, complete }: PaymentListing, load: LoadResult, purchases: number): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const acknowledgedIds = new Set(load.acknowledged.values());

  for (const [key, paymentId] of load.acknowledged) {
    if (!payments.has(paymentId)) {
      mismatches.push({ kind: 'acknowledged_payment_lost', key, paymentId, message: `${key} was answered with ${paymentId}, which no longer exists` });
    }
  }
  for (const paymentId of payments.keys()) {
    if (!acknowledgedIds.has(paymentId)) {
      mismatches.push({ kind: 'unacknowledged_payment', paymentId, message: `payment ${paymentId} exists but no answer named it` });
    }
  }
  if (!complete) {
    mismatches.push({ kind: 'unacknowledged_payment', message: `more payments are listed than the ${purchases} purchases made` });
  }

  for (const { paymentId, key, amount, requested } of load.acceptedCancels) {
    const payment = payments.get(paymentId);
    if (!payment) continue; // already reported as lost
    const expected = requested === undefined ? { status: 'cancelled', cancelled: amount } : { status: 'partially_cancelled', cancelled: requested };
    // A refund the PG keeps refusing is an operator's case, not a wrong answer.
    if (payment.status === 'requires_attention') continue;
    if (payment.status !== expected.status || payment.cancelledAmount !== expected.cancelled) {
      mismatches.push({
        kind: 'cancel_not_applied',
        key,
        paymentId,
        message: `cancel of ${expected.cancelled} of ${amount} accepted, but ${paymentId} is ${payment.status} with ${payment.cancelledAmount} cancelled`,
      });
    }
  }
  return mismatches;
}
