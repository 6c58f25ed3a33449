import { cancellations, refundAttempts } from './schema.ts';
import { selectList } from './select-list.ts';
import { LEASE_HELD, requireLease, type Fence } from './lease-fence.ts';
import type { Sql } from './sql.ts';

export type CancellationRow = typeof cancellations.$inferSelect;
export type RefundAttemptRow = typeof refundAttempts.$inferSelect;
export type NewCancellation = Omit<CancellationRow, 'status' | 'completedAt' | 'pgCalls'>;

const UPSERT_CANCELLATION = `insert into cancellations
  (id, payment_id, seq, idempotency_key, request_fingerprint, amount, reason, status, requested_at)
  values (@id, @paymentId, @seq, @idempotencyKey, @requestFingerprint, @amount, @reason, 'requested', @requestedAt)
  on conflict (id) do update set status = 'requested', completed_at = null`;

/** Records a refund request as accepted; an operator's retry of it marks it requested again. */
export async function upsertCancellation(q: Sql, cancellation: NewCancellation): Promise<void> {
  await q.run(UPSERT_CANCELLATION, {
    id: cancellation.id,
    paymentId: cancellation.paymentId,
    seq: cancellation.seq,
    idempotencyKey: cancellation.idempotencyKey,
    requestFingerprint: cancellation.requestFingerprint,
    amount: cancellation.amount,
    reason: cancellation.reason,
    requestedAt: cancellation.requestedAt,
  });
}

export async function finishCancellation(q: Sql, id: string, status: 'succeeded' | 'failed', at: number): Promise<void> {
  await q.run('update cancellations set status = @status, completed_at = @at where id = @id', { id, status, at });
}

/**
 * Records that a PG cancel call of this refund is about to be made; returns how many were
 * started before. More than none: an earlier call may have landed, so ask the PG first.
 * Fenced: LeaseLost when another process holds the payment now.
 */
export async function markRefundCallStarted(q: Sql, fence: Fence, cancellationId: string): Promise<number> {
  const row = await q.get<{ pgCalls: number }>(
    `update cancellations set pg_calls = pg_calls + 1 where id = @id and ${LEASE_HELD} returning pg_calls as "pgCalls"`,
    { ...fence, id: cancellationId },
  );
  if (row) return row.pgCalls - 1;
  await requireLease(q, fence);
  throw new Error(`cancellation ${cancellationId} is not recorded`);
}

const CANCELLATION_COLUMNS = selectList(cancellations);

export function findCancellationByKey(q: Sql, paymentId: string, idempotencyKey: string): Promise<CancellationRow | undefined> {
  return q.get<CancellationRow>(
    `select ${CANCELLATION_COLUMNS} from cancellations where payment_id = @paymentId and idempotency_key = @idempotencyKey`,
    { paymentId, idempotencyKey },
  );
}

export function listCancellations(q: Sql, paymentId: string): Promise<CancellationRow[]> {
  return q.all<CancellationRow>(`select ${CANCELLATION_COLUMNS} from cancellations where payment_id = @paymentId order by seq`, { paymentId });
}

const INSERT_REFUND_ATTEMPT = `insert into refund_attempts (payment_id, cancellation_id, at, outcome, pg_code, message)
  values (@paymentId, @cancellationId, @at, @outcome, @pgCode, @message)`;

export async function insertRefundAttempt(q: Sql, attempt: Omit<RefundAttemptRow, 'id'>): Promise<void> {
  await q.run(INSERT_REFUND_ATTEMPT, {
    paymentId: attempt.paymentId,
    cancellationId: attempt.cancellationId,
    at: attempt.at,
    outcome: attempt.outcome,
    pgCode: attempt.pgCode ?? null,
    message: attempt.message ?? null,
  });
}

export function listRefundAttempts(q: Sql, paymentId: string): Promise<RefundAttemptRow[]> {
  return q.all<RefundAttemptRow>(`select ${selectList(refundAttempts)} from refund_attempts where payment_id = @paymentId order by id`, {
    paymentId,
  });
}
