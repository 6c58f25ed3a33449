import { fromPromise } from 'xstate';
import type { Connection } from '../../db/connection.ts';
import { fulfilOrder } from '../../db/fulfilments-repo.ts';
import type { GroupCommit } from '../../db/group-commit.ts';
import { findPaymentOrder, markChargeStarted, type PaymentOrder } from '../../db/payments-repo.ts';
import { releaseStock, reserveStock } from '../../db/stock-repo.ts';
import { insertRefundAttempt } from '../../db/cancellations-repo.ts';
import type {
  ChargeOutput,
  InquiryOutput,
  RefundInput,
  RefundOutput,
  ReserveOutput,
  VoidOutput,
} from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import type { PgClient } from '../pg/pg-client.ts';
import { paymentItems } from './payment-view.ts';
import { toInquiryOutput } from './pg-status.ts';

export interface PaymentActorDeps {
  conn: Connection;
  commit: GroupCommit;
  pg: PgClient;
  clock: () => number;
  logger: Logger;
}

/**
 * The side effects of the payment machine. Each may run twice (rule 3): database
 * steps find their own rows first, PG calls carry the payment id.
 */
export function createPaymentActors({ conn, commit, pg, clock, logger }: PaymentActorDeps) {
  const load = (paymentId: string): PaymentOrder => {
    const row = findPaymentOrder(conn.db, paymentId);
    if (!row) throw new Error(`payment ${paymentId} vanished`);
    return row;
  };

  /**
   * Money moves only from a committed state: a refund or void whose state did not reach
   * the database (crash, lost lease) must not happen, or the PG and the payment disagree.
   */
  const ensureCommitted = async (paymentId: string, state: string): Promise<void> => {
    await commit.flush();
    const committed = load(paymentId).state;
    if (!committed.startsWith(state)) throw new Error(`${state} is not committed (${committed}); not calling the PG`);
  };

  /** An unanswered cancel may have landed: the PG's record says whether it did (rule 6). */
  const landed = async (paymentId: string, cancelledTotal: number, signal: AbortSignal): Promise<boolean> => {
    const record = await pg.getPayment(paymentId, signal);
    return record.kind === 'found' && record.cancelledAmount >= cancelledTotal;
  };

  return {
    reserveStock: fromPromise<ReserveOutput, { paymentId: string }>(async ({ input }) => {
      const items = paymentItems(load(input.paymentId));
      const kind = await commit.run(() => reserveStock(conn, input.paymentId, items, clock()));
      return { kind };
    }),

    chargePayment: fromPromise<ChargeOutput, { paymentId: string; attempt: number }>(async ({ input, signal }) => {
      const log = logger.child({ paymentId: input.paymentId, attempt: input.attempt });
      // Committed before the call: after a crash we know the call may have happened.
      const first = await commit.run(() => markChargeStarted(conn.db, input.paymentId, input.attempt));
      if (!first) {
        log.info('charge attempt already started before a restart; asking the PG instead');
        return { kind: 'unknown', reason: 'resumed_after_restart' };
      }
      const row = load(input.paymentId);
      const result = await pg.chargeWithBillingKey(
        {
          paymentId: row.id,
          billingKey: row.billingKey,
          orderName: row.orderName,
          amount: row.amount,
          currency: row.currency,
          customerId: row.customerId,
        },
        signal,
      );
      log.info({ outcome: result.kind, ...(result.kind === 'declined' ? { pgCode: result.pgCode } : {}) }, 'charge answered');
      return result.kind === 'declined' ? { kind: 'declined', code: result.code } : result;
    }),

    inquirePgStatus: fromPromise<InquiryOutput, { paymentId: string }>(async ({ input, signal }) =>
      toInquiryOutput(await pg.getPayment(input.paymentId, signal)),
    ),

    fulfilOrder: fromPromise<void, { paymentId: string }>(async ({ input }) => {
      const row = load(input.paymentId);
      await commit.run(() => fulfilOrder(conn.db, row.id, row.customerId, row.items, clock()));
    }),

    voidCharge: fromPromise<VoidOutput, { paymentId: string; amount: number }>(async ({ input, signal }) => {
      await ensureCommitted(input.paymentId, 'compensating');
      const result = await pg.cancelPayment(
        {
          paymentId: input.paymentId,
          amount: input.amount,
          reason: 'order could not be fulfilled',
          // One void per payment: a retried call must not cancel twice.
          idempotencyKey: `${input.paymentId}:void`,
        },
        signal,
      );
      logger.info({ paymentId: input.paymentId, outcome: result.kind }, 'void answered');
      if (result.kind === 'cancelled') return { kind: 'voided' };
      if (result.kind === 'refused' && result.code === 'PAYMENT_ALREADY_CANCELLED') return { kind: 'voided' };
      if (result.kind === 'unknown' && (await landed(input.paymentId, input.amount, signal))) return { kind: 'voided' };
      return result;
    }),

    releaseStock: fromPromise<void, { paymentId: string }>(async ({ input }) => {
      await commit.run(() => releaseStock(conn, input.paymentId, clock()));
    }),

    refundPayment: fromPromise<RefundOutput, RefundInput>(async ({ input, signal }) => {
      await ensureCommitted(input.paymentId, 'cancelling');
      const answer = await pg.cancelPayment(
        {
          paymentId: input.paymentId,
          amount: input.amount,
          reason: input.reason,
          idempotencyKey: input.pgIdempotencyKey,
        },
        signal,
      );
      const result =
        answer.kind === 'unknown' && (await landed(input.paymentId, input.cancelledTotal, signal))
          ? ({ kind: 'cancelled', cancellationId: null, amount: input.amount } as const)
          : answer;
      // Every attempt is kept: transient (no answer, 5xx) and permanent (refused) failures alike.
      const attempt = {
        paymentId: input.paymentId,
        cancellationId: input.cancellationId,
        at: clock(),
        outcome: result.kind === 'cancelled' ? 'succeeded' : result.kind === 'refused' ? 'permanent' : 'transient',
        pgCode: result.kind === 'refused' ? result.code : null,
        // The call's own words, even when the PG's record then showed the refund landed.
        message: answer.kind === 'unknown' ? answer.reason : null,
      } as const;
      await commit.run(() => insertRefundAttempt(conn.db, attempt));
      const log = logger.child({ paymentId: input.paymentId, cancellationId: input.cancellationId });
      if (result.kind === 'unknown') log.warn({ reason: result.reason }, 'refund got no answer; will retry');
      else if (result.kind === 'refused') log.error({ pgCode: result.code }, 'refund refused by the PG');
      else log.info({ amount: input.amount }, 'refunded');
      return result.kind === 'cancelled' ? { kind: 'refunded' } : result;
    }),
  };
}
