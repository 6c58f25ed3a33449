import { randomBytes } from 'node:crypto';
import { findCancellationByKey } from '../../db/cancellations-repo.ts';
import type { Database } from '../../db/connection.ts';
import { findPayment, type PaymentRow } from '../../db/payments-repo.ts';
import { AppError, notFound, paymentBusy } from '../errors.ts';
import { fingerprint } from './fingerprint.ts';
import type { PaymentHost } from './payment-host.ts';

export interface CancelBody {
  reason: string;
  amount?: number | undefined;
}

const CANCELLABLE = new Set(['completed', 'partially_cancelled']);

/**
 * Accepts a refund (rule 4: answers only once the accepting state is committed). The
 * machine re-checks state and amount, so a request racing another one cannot slip by.
 */
export function createCancelService({ db, host }: { db: Database; host: PaymentHost }) {
  const current = async (paymentId: string) => (await findPayment(db.read, paymentId)) as PaymentRow;

  async function replay(paymentId: string, key: string, print: string): Promise<{ row: PaymentRow; replayed: true } | undefined> {
    const existing = await findCancellationByKey(db.read, paymentId, key);
    if (!existing) return undefined;
    if (existing.requestFingerprint !== print) {
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request');
    }
    return { row: await current(paymentId), replayed: true };
  }

  return async function cancelPayment(paymentId: string, idempotencyKey: string, body: CancelBody) {
    const row = await findPayment(db.read, paymentId);
    if (!row) throw notFound(`Payment ${paymentId}`);
    const print = fingerprint(body);
    const replayed = await replay(paymentId, idempotencyKey, print);
    if (replayed) return replayed;

    if (!CANCELLABLE.has(row.status)) {
      throw new AppError(409, 'invalid_state', `A ${row.status} payment cannot be cancelled`);
    }
    const remaining = row.amount - row.cancelledAmount;
    const amount = body.amount ?? remaining;
    if (amount > remaining) {
      throw new AppError(422, 'amount_exceeds_cancellable', `At most ${remaining} ${row.currency} can be cancelled`);
    }

    const outcome = await host.deliver(paymentId, {
      type: 'api.cancel',
      id: `can_${randomBytes(8).toString('hex')}`,
      amount,
      reason: body.reason,
      idempotencyKey,
      fingerprint: print,
    });
    // The cancellation row commits with the accepting transition (rule 4).
    if (outcome === 'accepted') return { row: await current(paymentId), replayed: false };
    if (outcome !== 'refused') throw paymentBusy();
    // Refused: perhaps a twin of this very request got in first, and this is its replay.
    const twin = await replay(paymentId, idempotencyKey, print);
    if (twin) return twin;
    throw new AppError(409, 'invalid_state', 'The payment cannot be cancelled in its current state');
  };
}

export type CancelPayment = ReturnType<typeof createCancelService>;
