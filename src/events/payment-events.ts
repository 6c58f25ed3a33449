import { appendPaymentEvent, type PaymentEventRow } from '../../db/events-repo.ts';
import type { Db } from '../../db/connection.ts';
import { findPaymentView } from '../../db/payments-repo.ts';
import { timeOrderedId } from '../ids.ts';
import type { HostWrite } from '../payments/payment-host.ts';
import { toPaymentResource } from '../payments/payment-view.ts';

/** A payment event as consumers receive it (API.md, "Payment events"). */
export function toPaymentEventResource(row: Omit<PaymentEventRow, 'position' | 'publishedAt'>) {
  return {
    id: row.id,
    type: row.type,
    paymentId: row.paymentId,
    sequence: row.sequence,
    occurredAt: new Date(row.occurredAt).toISOString(),
    data: JSON.parse(row.data) as unknown,
  };
}

/** `payment.created`, in the transaction that inserts the payment: every payment's event 1. */
export function recordCreatedEvent(db: Db, paymentId: string, at: number): void {
  const row = findPaymentView(db, paymentId)!;
  appendPaymentEvent(db, {
    id: timeOrderedId('evt_', at),
    paymentId,
    type: 'payment.created',
    occurredAt: at,
    data: JSON.stringify(toPaymentResource(row)),
  });
}

/**
 * `payment.<status>` for each change of public status in a write, in the transaction that
 * commits it (a crash keeps both or neither). Each event carries the payment as it was at
 * that transition, not as the write left it.
 */
export function recordStatusEvents(db: Db, write: HostWrite): void {
  const changes = write.transitions.filter((t) => t.status !== t.fromStatus);
  if (changes.length === 0) return;
  const now = toPaymentResource(findPaymentView(db, write.paymentId)!);
  for (const t of changes) {
    const data = {
      ...now,
      status: t.status,
      state: t.to.split('.')[0],
      failureCode: t.context.failureCode,
      cancelledAmount: t.context.cancelledAmount,
      updatedAt: new Date(t.at).toISOString(),
    };
    appendPaymentEvent(db, {
      id: timeOrderedId('evt_', t.at),
      paymentId: write.paymentId,
      type: `payment.${t.status}`,
      occurredAt: t.at,
      data: JSON.stringify(data),
    });
  }
}
