import type { Db } from './connection.ts';
import { fulfilments } from './schema.ts';

/** Hands the order over (enrolment, shipment record); a second run changes nothing. */
export function fulfilOrder(db: Db, paymentId: string, customerId: string, items: string, now: number): void {
  db.insert(fulfilments).values({ paymentId, customerId, items, createdAt: now }).onConflictDoNothing().run();
}
