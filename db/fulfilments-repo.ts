import { sql } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { prepared } from './prepared.ts';
import { fulfilments } from './schema.ts';

/** Hands the order over (enrolment, shipment record); a second run changes nothing. */
export function fulfilOrder(db: Db, paymentId: string, customerId: string, items: string, now: number): void {
  prepared(db, 'fulfilOrder', () =>
    db
      .insert(fulfilments)
      .values({
        paymentId: sql.placeholder('paymentId'),
        customerId: sql.placeholder('customerId'),
        items: sql.placeholder('items'),
        createdAt: sql.placeholder('createdAt'),
      })
      .onConflictDoNothing()
      .prepare(),
  ).run({ paymentId, customerId, items, createdAt: now });
}
