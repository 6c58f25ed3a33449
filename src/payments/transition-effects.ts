import { recordAttention } from '../../db/attention-repo.ts';
import type { Db } from '../../db/connection.ts';
import type { SnapshotWrite } from '../../db/payments-repo.ts';
import type { PaymentContext } from '../../machines/payment.machine.ts';

/**
 * Rows that must commit together with a payment's transition (rule 7): a compensation
 * that failed for good leaves a dead letter and an urgent alert, or neither.
 */
export function recordTransitionEffects(db: Db, write: SnapshotWrite, context: PaymentContext): void {
  for (const transition of write.transitions) {
    if (transition.to === 'requires_attention') {
      recordAttention(db, {
        paymentId: write.paymentId,
        step: context.attentionStep ?? 'unknown',
        reason: context.attentionReason ?? 'unknown',
        at: transition.at,
      });
    }
  }
}
