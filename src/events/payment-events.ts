import { appendPaymentEvent, type PaymentEventRow } from '../../db/events-repo.ts';
import type { PaymentViewRow } from '../../db/payments-repo.ts';
import type { Tx } from '../../db/sql.ts';
import { timeOrderedId } from '../ids.ts';
import type { HostWrite } from '../payments/host-write.ts';
import type { Order } from '../payments/order-cache.ts';
import { toPaymentResource } from '../payments/payment-view.ts';

/** A payment event as consumers receive it (API.md, "Payment events"). */
export function toPaymentEventResource(row: Omit<PaymentEventRow, 'position' | 'publishedAt' | 'feedPosition'>) {
  return {
    id: row.id,
    type: row.type,
    paymentId: row.paymentId,
    sequence: row.sequence,
    occurredAt: new Date(row.occurredAt).toISOString(),
    data: JSON.parse(row.data) as unknown,
  };
}

/** `payment.created`, in the transaction that inserts the payment (as inserted): every payment's event 1. */
export async function recordCreatedEvent(tx: Tx, payment: PaymentViewRow, at: number): Promise<void> {
  await appendPaymentEvent(tx, {
    id: timeOrderedId('evt_', at),
    paymentId: payment.id,
    type: 'payment.created',
    occurredAt: at,
    data: JSON.stringify(toPaymentResource(payment)),
  });
}

/**
 * `payment.<status>` for each change of public status in a write, in the transaction that
 * commits it (a crash keeps both or neither). Each event carries the payment as it was at
 * that transition: the order's fixed fields, the transition's own (no row read). `orderOf`
 * is asked only when an event is written.
 */
export async function recordStatusEvents(tx: Tx, write: HostWrite, orderOf: () => Promise<Order>): Promise<void> {
  const changes = write.transitions.filter((t) => t.status !== t.fromStatus);
  if (changes.length === 0) return;
  const order = await orderOf();
  for (const t of changes) {
    const data = toPaymentResource({
      ...order,
      status: t.status,
      state: t.to,
      failureCode: t.context.failureCode,
      cancelledAmount: t.context.cancelledAmount,
      updatedAt: t.at,
    });
    await appendPaymentEvent(tx, {
      id: timeOrderedId('evt_', t.at),
      paymentId: write.paymentId,
      type: `payment.${t.status}`,
      occurredAt: t.at,
      data: JSON.stringify(data),
    });
  }
}
