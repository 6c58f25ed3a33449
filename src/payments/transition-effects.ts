import { recordAttention, resolveFailedEvent } from '../../db/attention-repo.ts';
import { finishCancellation, upsertCancellation } from '../../db/cancellations-repo.ts';
import type { Db } from '../../db/connection.ts';
import type { SnapshotWrite, Transition } from '../../db/payments-repo.ts';
import type { PaymentContext } from '../../machines/payment.machine.ts';

const inCancelling = (state: string | null) => state?.startsWith('cancelling') ?? false;

/**
 * Rows that must commit together with a payment's transition: a refund request with
 * the state that accepted it, a dead letter and an urgent alert with the state that
 * gave up (rule 7), an operator's resolution with the action that made it.
 */
export function recordTransitionEffects(db: Db, write: SnapshotWrite, context: PaymentContext): void {
  for (const transition of write.transitions) {
    recordCancellation(db, write.paymentId, transition, context);
    recordOperatorAction(db, transition);
    if (transition.to === 'requires_attention' && transition.from !== 'requires_attention') {
      recordAttention(db, {
        paymentId: write.paymentId,
        step: context.attentionStep ?? 'unknown',
        reason: context.attentionReason ?? 'unknown',
        at: transition.at,
      });
    }
  }
}

function recordCancellation(db: Db, paymentId: string, t: Transition, context: PaymentContext): void {
  const cancel = context.cancel;
  if (!cancel) return;
  if (inCancelling(t.to) && !inCancelling(t.from)) {
    upsertCancellation(db, {
      id: cancel.id,
      paymentId,
      seq: cancel.seq,
      idempotencyKey: cancel.idempotencyKey,
      requestFingerprint: cancel.fingerprint,
      amount: cancel.amount,
      reason: cancel.reason,
      requestedAt: t.at,
    });
  } else if (inCancelling(t.from) && !inCancelling(t.to)) {
    finishCancellation(db, cancel.id, t.to === 'requires_attention' ? 'failed' : 'succeeded', t.at);
  }
}

function recordOperatorAction(db: Db, t: Transition): void {
  if (t.type !== 'admin.retry' && t.type !== 'admin.ignore') return;
  const { failedEventId, actor, reason } = t.detail as { failedEventId: string; actor: string; reason: string };
  resolveFailedEvent(db, Number(failedEventId), {
    status: t.type === 'admin.retry' ? 'retried' : 'ignored',
    by: actor,
    note: reason,
    at: t.at,
  });
}
