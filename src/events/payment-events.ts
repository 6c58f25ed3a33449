import { appendPaymentEvent, type PaymentEventRow } from '../../db/events-repo.ts';
import { findPaymentView } from '../../db/payments-repo.ts';
import type { Sql } from '../../db/sql.ts';
import { timeOrderedId } from '../ids.ts';
import type { HostWrite } from '../payments/host-write.ts';
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

/** `payment.created`, in the transaction that inserts the payment: every payment's event 1. */
export async function recordCreatedEvent(tx: Sql, paymentId: string, at: number): Promise<void> {
  const row = (await findPaymentView(tx, paymentId))!;
  await appendPaymentEvent(tx, {
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
export async function recordStatusEvents(tx: Sql, write: HostWrite): Promise<void> {
  const changes = write.transitions.filter((t) => t.status !== t.fromStatus);
  if (changes.length === 0) return;
  const now = toPaymentResource((await findPaymentView(tx, write.paymentId))!);
  for (const t of changes) {
    const data = {
      ...now,
      status: t.status,
      state: t.to.split('.')[0],
      failureCode: t.context.failureCode,
      cancelledAmount: t.context.cancelledAmount,
      updatedAt: new Date(t.at).toISOString(),
    };
    await appendPaymentEvent(tx, {
      id: timeOrderedId('evt_', t.at),
      paymentId: write.paymentId,
      type: `payment.${t.status}`,
      occurredAt: t.at,
      data: JSON.stringify(data),
    });
  }
}
