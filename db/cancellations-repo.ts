import { and, asc, eq } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { cancellations, refundAttempts } from './schema.ts';

export type CancellationRow = typeof cancellations.$inferSelect;
export type RefundAttemptRow = typeof refundAttempts.$inferSelect;
export type NewCancellation = Omit<CancellationRow, 'status' | 'completedAt'>;

/** Records a refund request as accepted; an operator's retry of it marks it requested again. */
export function upsertCancellation(db: Db, cancellation: NewCancellation): void {
  db.insert(cancellations)
    .values({ ...cancellation, status: 'requested' })
    .onConflictDoUpdate({ target: cancellations.id, set: { status: 'requested', completedAt: null } })
    .run();
}

export function finishCancellation(db: Db, id: string, status: 'succeeded' | 'failed', at: number): void {
  db.update(cancellations).set({ status, completedAt: at }).where(eq(cancellations.id, id)).run();
}

export function findCancellationByKey(db: Db, paymentId: string, idempotencyKey: string): CancellationRow | undefined {
  return db
    .select()
    .from(cancellations)
    .where(and(eq(cancellations.paymentId, paymentId), eq(cancellations.idempotencyKey, idempotencyKey)))
    .get();
}

export function listCancellations(db: Db, paymentId: string): CancellationRow[] {
  return db.select().from(cancellations).where(eq(cancellations.paymentId, paymentId)).orderBy(asc(cancellations.seq)).all();
}

export function insertRefundAttempt(db: Db, attempt: Omit<RefundAttemptRow, 'id'>): void {
  db.insert(refundAttempts).values(attempt).run();
}

export function listRefundAttempts(db: Db, paymentId: string): RefundAttemptRow[] {
  return db.select().from(refundAttempts).where(eq(refundAttempts.paymentId, paymentId)).orderBy(asc(refundAttempts.id)).all();
}
