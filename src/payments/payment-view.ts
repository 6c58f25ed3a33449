import type { CancellationRow, RefundAttemptRow } from '../../db/cancellations-repo.ts';
import type { PaymentRow, PaymentViewRow, TransitionRow } from '../../db/payments-repo.ts';

export interface PaymentItem {
  productId: string;
  quantity: number;
  unitPrice: number;
}

export function paymentItems(row: Pick<PaymentRow, 'items'>): PaymentItem[] {
  return JSON.parse(row.items) as PaymentItem[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The payment resource of API.md. */
export function toPaymentResource(row: PaymentViewRow) {
  return {
    id: row.id,
    status: row.status,
    state: row.state.split('.')[0],
    amount: row.amount,
    cancelledAmount: row.cancelledAmount,
    currency: row.currency,
    customerId: row.customerId,
    partnerId: row.partnerId,
    items: paymentItems(row),
    orderName: row.orderName,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as unknown),
    failureCode: row.failureCode,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export function toTransitionResource(row: TransitionRow) {
  return {
    seq: row.seq,
    type: row.type,
    reason: row.reason ?? row.type,
    from: row.fromState,
    to: row.toState,
    at: iso(row.at),
    ...(row.detail === null ? {} : { detail: JSON.parse(row.detail) as Record<string, unknown> }),
  };
}

/** A refund with its failure history (every PG cancel attempt and how it ended). */
export function toCancellationResource(row: CancellationRow, attempts: RefundAttemptRow[]) {
  return {
    id: row.id,
    amount: row.amount,
    reason: row.reason,
    status: row.status,
    requestedAt: iso(row.requestedAt),
    completedAt: row.completedAt === null ? null : iso(row.completedAt),
    attempts: attempts
      .filter((a) => a.cancellationId === row.id)
      .map((a) => ({ at: iso(a.at), outcome: a.outcome, pgCode: a.pgCode, message: a.message })),
  };
}
