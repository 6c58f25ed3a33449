import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { cancellations, refundAttempts } from './schema.ts';

export type CancellationRow = typeof cancellations.$inferSelect;
export type RefundAttemptRow = typeof refundAttempts.$inferSelect;
export type NewCancellation = Omit<CancellationRow, 'status' | 'completedAt' | 'pgCalls'>;

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

/**
 * Records that a PG cancel call of this refund is about to be made; returns how many were
 * started before. More than none: an earlier call may have landed, so ask the PG first.
 */
export function markRefundCallStarted(db: Db, cancellationId: string): number {
  const row = db
    .update(cancellations)
    .set({ pgCalls: sql`${cancellations.pgCalls} + 1` })
    .where(eq(cancellations.id, cancellationId))
    .returning({ pgCalls: cancellations.pgCalls })
    .get();
  if (!row) throw new Error(`cancellation ${cancellationId} is not recorded`);
  return row.pgCalls - 1;
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
