import { insertAlert, recordAttention, resolveFailedEvent, resolvePaymentFailedEvents } from '../../db/attention-repo.ts';
import { finishCancellation, upsertCancellation } from '../../db/cancellations-repo.ts';
import type { Db } from '../../db/connection.ts';
import { recordMoneyMovement } from '../../db/money-movements-repo.ts';
import type { HostWrite, TransitionRecord } from './payment-host.ts';

const inAttention = (state: string | null) => state?.startsWith('requires_attention') ?? false;
/** The refund is with the PG (sent, or being asked about); returning the stock comes after it landed. */
const refundInFlight = (state: string | null) =>
  state !== null && state.startsWith('cancelling.') && !state.startsWith('cancelling.returningStock');
/** The PG's record showed that the refund an operator was waiting on landed after all. */
const refundLandedLate = (t: TransitionRecord) =>
  t.type === 'pg.status' && inAttention(t.from) && (t.to === 'partially_cancelled' || t.to.startsWith('cancelling.returningStock'));

/**
 * Rows that must commit together with a payment's transition: a refund request with
 * the state that accepted it, a dead letter and an urgent alert with the state that
 * gave up (rule 7), an operator's resolution with the action that made it, the alerts
 * the machine raised and the money it saw move (what settlement adds up). Each
 * transition is read with its own context, not the newest.
 */
export function recordTransitionEffects(db: Db, write: HostWrite): void {
  for (const transition of write.transitions) {
    recordCancellation(db, write.paymentId, transition);
    recordResolution(db, write.paymentId, transition);
    if (inAttention(transition.to) && !inAttention(transition.from)) {
      recordAttention(db, {
        paymentId: write.paymentId,
        step: transition.context.attentionStep ?? 'unknown',
        reason: transition.context.attentionReason ?? 'unknown',
        at: transition.at,
      });
    }
    for (const emitted of transition.emitted) {
      if (emitted.type === 'alert') {
        const { severity, title, details } = emitted;
        insertAlert(db, { paymentId: write.paymentId, severity, title, details, at: transition.at });
      } else {
        const { kind, amount, at } = emitted;
        recordMoneyMovement(db, { paymentId: write.paymentId, kind, amount, at: at ?? transition.at });
      }
    }
  }
}

function recordCancellation(db: Db, paymentId: string, t: TransitionRecord): void {
  const cancel = t.context.cancel;
  if (!cancel) return;
  if (refundInFlight(t.to) && !refundInFlight(t.from)) {
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
  } else if (refundInFlight(t.from) && !refundInFlight(t.to)) {
    finishCancellation(db, cancel.id, inAttention(t.to) ? 'failed' : 'succeeded', t.at);
  } else if (refundLandedLate(t)) {
    finishCancellation(db, cancel.id, 'succeeded', t.at);
  }
}

/** Who settled a dead letter: an operator's retry, ignore or resolution, or the PG's own record. */
function recordResolution(db: Db, paymentId: string, t: TransitionRecord): void {
  const detail = t.detail as { failedEventId?: string; actor: string; reason: string; outcome?: string } | undefined;
  if ((t.type === 'admin.retry' || t.type === 'admin.ignore') && detail?.failedEventId) {
    const status = t.type === 'admin.retry' ? 'retried' : 'ignored';
    resolveFailedEvent(db, Number(detail.failedEventId), { status, by: detail.actor, note: detail.reason, at: t.at });
  } else if (t.type === 'admin.resolve' && detail) {
    const note = `${detail.outcome}: ${detail.reason}`;
    resolvePaymentFailedEvents(db, paymentId, { status: 'resolved', by: detail.actor, note, at: t.at });
  } else if (t.type === 'pg.status' && inAttention(t.from) && !inAttention(t.to)) {
    resolvePaymentFailedEvents(db, paymentId, { status: 'resolved', by: 'pg', note: 'the PG shows the money went back', at: t.at });
  }
}
