import type { Db } from './connection.ts';
import { prepared } from './prepared.ts';

/** Hands the order over (enrolment, shipment record); a second run changes nothing. */
export function fulfilOrder(db: Db, paymentId: string, customerId: string, items: string, now: number): void {
  prepared(db, 'fulfilOrder', () =>
    db.$client.prepare(`insert into fulfilments (payment_id, customer_id, items, created_at)
      values (@paymentId, @customerId, @items, @createdAt) on conflict do nothing`),
  ).run({ paymentId, customerId, items, createdAt: now });
}
