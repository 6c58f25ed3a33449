import { fromPromise } from 'xstate';
import { insertRefundAttempt, markRefundCallStarted } from '../../db/cancellations-repo.ts';
import type { Database } from '../../db/connection.ts';
import { fulfilOrder } from '../../db/fulfilments-repo.ts';
import { findPaymentOrder, markChargeStarted } from '../../db/payments-repo.ts';
import type { Fence } from '../../db/lease-fence.ts';
import type { Tx } from '../../db/sql.ts';
import { releaseStock, reserveStock } from '../../db/stock-repo.ts';
import type {
  ChargeOutput,
  PgRecord,
  RefundInput,
  RefundOutput,
  ReserveOutput,
  VoidInput,
  VoidOutput,
} from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import type { CancelResult, PgClient } from '../pg/pg-client.ts';
import type { Order, OrderCache } from './order-cache.ts';
import { paymentItems } from './payment-view.ts';
import { toStepError } from './step-errors.ts';

export interface PaymentActorDeps {
  db: Database;
  pg: PgClient;
  clock: () => number;
  logger: Logger;
  /** This process's lease owner id: every step write is fenced by it. */
  owner: string;
  /** The orders of the payments running here (the host keeps it). */
  orders: OrderCache;
}

/**
 * PG refusals of a cancel that mean "nothing (more) to cancel": an earlier call of ours
 * may have landed. The PG's record decides whether it did.
 */
const MAYBE_ALREADY_CANCELLED = new Set([
  'PAYMENT_ALREADY_CANCELLED',
  'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT',
  'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN',
]);

/**
 * The side effects of the payment machine. Each may run twice (rule 3): database
 * steps find their own rows first, PG calls carry the payment id. Database steps are
 * fenced by the lease (rule 8) and throw errors that say whether a retry can help.
 */
export function createPaymentActors({ db, pg, clock, logger, owner, orders }: PaymentActorDeps) {
  const load = (paymentId: string): Promise<Order> => orders.require(paymentId);

  /**
   * A step's write, only while this process holds the payment's lease: `work`'s statements
   * check the fence they are given (rule 8).
   */
  const fencedWrite = <T>(paymentId: string, work: (tx: Tx, fence: Fence) => Promise<T>): Promise<T> =>
    db.commit
      .run((tx) => work(tx, { paymentId, owner }))
      .catch((error: unknown) => {
        throw toStepError(error);
      });

  /**
   * Money moves only from a committed state: a refund or void whose state did not reach
   * the database (crash, lost lease) must not happen, or the PG and the payment disagree.
   */
  const ensureCommitted = async (paymentId: string, state: string): Promise<void> => {
    await db.commit.flush();
    const committed = (await findPaymentOrder(db.read, paymentId))?.state ?? 'vanished';
    if (!committed.startsWith(state)) throw new Error(`${state} is not committed (${committed}); not calling the PG`);
  };

  /** What the PG's record shows as given back, and when; undefined when it did not say (rule 6). */
  const returnedAtPg = async (paymentId: string, signal: AbortSignal): Promise<{ amount: number; at: string | null } | undefined> => {
    const record = await pg.getPayment(paymentId, signal);
    return record.kind === 'found' ? { amount: record.cancelledAmount, at: record.cancelledAt } : undefined;
  };
  /** A cancel the PG's record shows as done, at the time the record gives. */
  const cancelledPerRecord = (amount: number, at: string | null): CancelResult => ({ kind: 'cancelled', cancellationId: null, amount, cancelledAt: at });

  /** A cancel that got no answer, or was refused as already done, landed if the PG shows it. */
  const confirmCancel = async (
    paymentId: string,
    answer: CancelResult,
    cancelledTotal: number,
    signal: AbortSignal,
  ): Promise<CancelResult> => {
    const inDoubt = answer.kind === 'unknown' || (answer.kind === 'refused' && MAYBE_ALREADY_CANCELLED.has(answer.code));
    if (!inDoubt) return answer;
    const returned = await returnedAtPg(paymentId, signal);
    return returned !== undefined && returned.amount >= cancelledTotal ? cancelledPerRecord(0, returned.at) : answer;
  };

  /**
   * Sends a refund's PG cancel, unless an earlier call of it already landed: the PG keeps
   * idempotency keys only for a while, so a resend asks the PG's record first.
   */
  const sendRefund = async (input: RefundInput, signal: AbortSignal): Promise<{ answer: CancelResult; result: CancelResult }> => {
    const earlierCalls = await fencedWrite(input.paymentId, (tx, fence) => markRefundCallStarted(tx, fence, input.cancellationId));
    if (earlierCalls > 0) {
      const returned = await returnedAtPg(input.paymentId, signal);
      if (returned === undefined) {
        const answer = { kind: 'unknown', reason: 'pg_no_answer_before_resend' } as const;
        return { answer, result: answer };
      }
      if (returned.amount >= input.cancelledTotal) {
        const answer = cancelledPerRecord(input.amount, returned.at);
        return { answer, result: answer };
      }
    }
    const answer = await pg.cancelPayment(
      { paymentId: input.paymentId, amount: input.amount, reason: input.reason, idempotencyKey: input.pgIdempotencyKey },
      signal,
    );
    return { answer, result: await confirmCancel(input.paymentId, answer, input.cancelledTotal, signal) };
  };

  return {
    reserveStock: fromPromise<ReserveOutput, { paymentId: string }>(async ({ input }) => {
      const items = paymentItems(await load(input.paymentId));
      const { outcome } = await fencedWrite(input.paymentId, (tx, fence) => reserveStock(tx, fence, items, clock()));
      return { kind: outcome };
    }),

    chargePayment: fromPromise<ChargeOutput, { paymentId: string; attempt: number }>(async ({ input, signal }) => {
      const log = logger.child({ paymentId: input.paymentId, attempt: input.attempt });
      // Committed before the call: after a crash we know the call may have happened.
      const { firstCall } = await fencedWrite(input.paymentId, (tx, fence) => markChargeStarted(tx, fence, input.attempt));
      if (!firstCall) {
        log.info('charge attempt already started before a restart; asking the PG instead');
        return { kind: 'unknown', reason: 'resumed_after_restart' };
      }
      const row = await load(input.paymentId);
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

    inquirePgStatus: fromPromise<PgRecord, { paymentId: string }>(({ input, signal }) => pg.getPayment(input.paymentId, signal)),

    fulfilOrder: fromPromise<void, { paymentId: string }>(async ({ input }) => {
      const row = await load(input.paymentId);
      await fencedWrite(input.paymentId, (tx, fence) => fulfilOrder(tx, fence, row.customerId, row.items, clock()));
    }),

    // A void gives back the whole charge, so a repeated one is refused as already
    // cancelled rather than paid twice: it needs no ask-first as partial refunds do.
    voidCharge: fromPromise<VoidOutput, VoidInput>(async ({ input, signal }) => {
      await ensureCommitted(input.paymentId, input.fromState);
      const answer = await pg.cancelPayment(
        {
          paymentId: input.paymentId,
          amount: input.amount,
          reason: input.fromState === 'voidingLateCharge' ? 'charge landed after the payment failed' : 'order could not be fulfilled',
          // One void per payment: a retried call must not cancel twice.
          idempotencyKey: `${input.paymentId}:void`,
        },
        signal,
      );
      const result = await confirmCancel(input.paymentId, answer, input.amount, signal);
      logger.info({ paymentId: input.paymentId, outcome: result.kind }, 'void answered');
      return result.kind === 'cancelled' ? { kind: 'voided', cancelledAt: result.cancelledAt } : result;
    }),

    releaseStock: fromPromise<void, { paymentId: string }>(async ({ input }) => {
      await fencedWrite(input.paymentId, (tx, fence) => releaseStock(tx, fence, clock()));
    }),

    refundPayment: fromPromise<RefundOutput, RefundInput>(async ({ input, signal }) => {
      await ensureCommitted(input.paymentId, 'cancelling.refunding');
      const { answer, result } = await sendRefund(input, signal);
      // Every attempt is kept: transient (no answer, 5xx) and permanent (refused) failures alike.
      // It records what the PG did, which stays true whoever holds the lease now: not fenced.
      const attempt = {
        paymentId: input.paymentId,
        cancellationId: input.cancellationId,
        at: clock(),
        outcome: result.kind === 'cancelled' ? 'succeeded' : result.kind === 'refused' ? 'permanent' : 'transient',
        pgCode: result.kind === 'refused' ? result.code : null,
        // The call's own words, even when the PG's record then showed the refund landed.
        message: answer.kind === 'unknown' ? answer.reason : answer.kind === 'refused' ? answer.code : null,
      } as const;
      await db.commit.run((tx) => insertRefundAttempt(tx, attempt));
      const log = logger.child({ paymentId: input.paymentId, cancellationId: input.cancellationId });
      if (result.kind === 'unknown') log.warn({ reason: result.reason }, 'refund got no answer; asking the PG whether it landed');
      else if (result.kind === 'refused') log.error({ pgCode: result.code }, 'refund refused by the PG');
      else log.info({ amount: input.amount }, 'refunded');
      return result.kind === 'cancelled' ? { kind: 'refunded', cancelledAt: result.cancelledAt } : result;
    }),
  };
}
