import { insertAlert, recordAttention, resolveFailedEvent, resolvePaymentFailedEvents } from '../../db/attention-repo.ts';
import { finishCancellation, upsertCancellation } from '../../db/cancellations-repo.ts';
import { recordMoneyMovement } from '../../db/money-movements-repo.ts';
import type { Tx } from '../../db/sql.ts';
import type { HostWrite, TransitionRecord } from './host-write.ts';

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
export async function recordTransitionEffects(tx: Tx, write: HostWrite): Promise<void> {
  for (const transition of write.transitions) {
    await recordCancellation(tx, write.paymentId, transition);
    await recordResolution(tx, write.paymentId, transition);
    if (inAttention(transition.to) && !inAttention(transition.from)) {
      await recordAttention(tx, {
        paymentId: write.paymentId,
        step: transition.context.attentionStep ?? 'unknown',
        reason: transition.context.attentionReason ?? 'unknown',
        at: transition.at,
      });
    }
    for (const emitted of transition.emitted) {
      if (emitted.type === 'alert') {
        const { severity, title, details } = emitted;
        await insertAlert(tx, { paymentId: write.paymentId, severity, title, details, at: transition.at });
      } else {
        const { kind, amount, at } = emitted;
        await recordMoneyMovement(tx, { paymentId: write.paymentId, kind, amount, at: at ?? transition.at });
      }
    }
  }
}

async function recordCancellation(tx: Tx, paymentId: string, t: TransitionRecord): Promise<void> {
  const cancel = t.context.cancel;
  if (!cancel) return;
  if (refundInFlight(t.to) && !refundInFlight(t.from)) {
    await upsertCancellation(tx, {
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
    await finishCancellation(tx, cancel.id, inAttention(t.to) ? 'failed' : 'succeeded', t.at);
  } else if (refundLandedLate(t)) {
    await finishCancellation(tx, cancel.id, 'succeeded', t.at);
  }
}

/** Who settled a dead letter: an operator's retry, ignore or resolution, or the PG's own record. */
async function recordResolution(tx: Tx, paymentId: string, t: TransitionRecord): Promise<void> {
  const detail = t.detail as { failedEventId?: string; actor: string; reason: string; outcome?: string } | undefined;
  if ((t.type === 'admin.retry' || t.type === 'admin.ignore') && detail?.failedEventId) {
    const status = t.type === 'admin.retry' ? 'retried' : 'ignored';
    await resolveFailedEvent(tx, Number(detail.failedEventId), { status, by: detail.actor, note: detail.reason, at: t.at });
  } else if (t.type === 'admin.resolve' && detail) {
    const note = `${detail.outcome}: ${detail.reason}`;
    await resolvePaymentFailedEvents(tx, paymentId, { status: 'resolved', by: detail.actor, note, at: t.at });
  } else if (t.type === 'pg.status' && inAttention(t.from) && !inAttention(t.to)) {
    await resolvePaymentFailedEvents(tx, paymentId, { status: 'resolved', by: 'pg', note: 'the PG shows the money went back', at: t.at });
  }
}
