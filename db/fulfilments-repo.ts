import type { Sql } from './sql.ts';

const FULFIL_ORDER = `insert into fulfilments (payment_id, customer_id, items, created_at)
  values (@paymentId, @customerId, @items, @createdAt) on conflict do nothing`;

/** Hands the order over (enrolment, shipment record); a second run changes nothing. */
export async function fulfilOrder(q: Sql, paymentId: string, customerId: string, items: string, now: number): Promise<void> {
  await q.run(FULFIL_ORDER, { paymentId, customerId, items, createdAt: now });
}
