import type { ListedPayment } from '../pg/pg-client.ts';

/**
 * A payment on which our count and the PG's list disagree:
 * - `not_counted_here`: the PG took the money that day, settlement did not count it;
 * - `not_paid_at_pg`: settlement counted it, the PG's list has no charge that day;
 * - `amount_differs`: both have it, with different amounts.
 */
export interface Discrepancy {
  paymentId: string;
  kind: 'not_counted_here' | 'not_paid_at_pg' | 'amount_differs';
  ours: number | null;
  pg: number | null;
}

/** Statuses of a payment the PG took money for (given back since, or not). */
const CHARGED_STATUSES = new Set(['PAID', 'PARTIAL_CANCELLED', 'CANCELLED']);

/** The PG's charges of the day: its listed payments whose paidAt falls in [start, end). */
export function pgChargesOfDay(listed: readonly ListedPayment[], start: number, end: number): Map<string, number> {
  const charges = new Map<string, number>();
  for (const payment of listed) {
    if (!CHARGED_STATUSES.has(payment.status) || payment.paidAt === null) continue;
    const paidAt = Date.parse(payment.paidAt);
    if (paidAt >= start && paidAt < end) charges.set(payment.paymentId, payment.amount);
  }
  return charges;
}

/** Compares what settlement counted (payment id → amount) with the PG's charges of the same day. */
export function compareWithPg(counted: ReadonlyMap<string, number>, pg: ReadonlyMap<string, number>): Discrepancy[] {
  const found: Discrepancy[] = [];
  for (const [paymentId, ours] of counted) {
    const theirs = pg.get(paymentId);
    if (theirs === undefined) found.push({ paymentId, kind: 'not_paid_at_pg', ours, pg: null });
    else if (theirs !== ours) found.push({ paymentId, kind: 'amount_differs', ours, pg: theirs });
  }
  for (const [paymentId, theirs] of pg) {
    if (!counted.has(paymentId)) found.push({ paymentId, kind: 'not_counted_here', ours: null, pg: theirs });
  }
  return found;
}
