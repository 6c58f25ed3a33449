import { fromPromise } from 'xstate';
import type { Connection } from '../../db/connection.ts';
import { fulfilOrder } from '../../db/fulfilments-repo.ts';
import type { GroupCommit } from '../../db/group-commit.ts';
import { findPayment, markChargeStarted, type PaymentRow } from '../../db/payments-repo.ts';
import { releaseStock, reserveStock } from '../../db/stock-repo.ts';
import type { ChargeOutput, InquiryOutput, ReserveOutput, VoidOutput } from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import type { PgClient } from '../pg/pg-client.ts';
import { paymentItems } from './payment-view.ts';

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
  const load = (paymentId: string): PaymentRow => {
    const row = findPayment(conn.db, paymentId);
    if (!row) throw new Error(`payment ${paymentId} vanished`);
    return row;
  };

  return {
    reserveStock: fromPromise<ReserveOutput, { paymentId: string }>(async ({ input }) => {
      const items = paymentItems(load(input.paymentId));
      const kind = await commit.run(() => reserveStock(conn, input.paymentId, items, clock()));
      return { kind };
    }),

    chargePayment: fromPromise<ChargeOutput, { paymentId: string; attempt: number }>(async ({ input }) => {
      const log = logger.child({ paymentId: input.paymentId, attempt: input.attempt });
      // Committed before the call: after a crash we know the call may have happened.
      const first = await commit.run(() => markChargeStarted(conn.db, input.paymentId, input.attempt));
      if (!first) {
        log.info('charge attempt already started before a restart; asking the PG instead');
        return { kind: 'unknown', reason: 'resumed_after_restart' };
      }
      const row = load(input.paymentId);
      const result = await pg.chargeWithBillingKey({
        paymentId: row.id,
        billingKey: row.billingKey,
        orderName: row.orderName,
        amount: row.amount,
        currency: row.currency,
        customerId: row.customerId,
      });
      log.info({ outcome: result.kind, ...(result.kind === 'declined' ? { pgCode: result.pgCode } : {}) }, 'charge answered');
      return result.kind === 'declined' ? { kind: 'declined', code: result.code } : result;
    }),

    inquirePgStatus: fromPromise<InquiryOutput, { paymentId: string }>(async ({ input }) => {
      const result = await pg.getPayment(input.paymentId);
      if (result.kind !== 'found') return result;
      switch (result.status) {
        case 'PAID':
        case 'PARTIAL_CANCELLED':
          return { kind: 'paid', pgTxId: result.pgTxId };
        // Charged and already given back in full: nothing is owed, like a failed charge.
        case 'CANCELLED':
        case 'FAILED':
          return { kind: 'failed' };
        case 'READY':
        case 'PENDING':
          return { kind: 'pending' };
      }
    }),

    fulfilOrder: fromPromise<void, { paymentId: string }>(async ({ input }) => {
      const row = load(input.paymentId);
      await commit.run(() => fulfilOrder(conn.db, row.id, row.customerId, row.items, clock()));
    }),

    voidCharge: fromPromise<VoidOutput, { paymentId: string; amount: number }>(async ({ input }) => {
      const result = await pg.cancelPayment({
        paymentId: input.paymentId,
        amount: input.amount,
        reason: 'order could not be fulfilled',
        // One void per payment: a retried call must not cancel twice.
        idempotencyKey: `${input.paymentId}:void`,
      });
      logger.info({ paymentId: input.paymentId, outcome: result.kind }, 'void answered');
      if (result.kind === 'cancelled') return { kind: 'voided' };
      if (result.kind === 'refused' && result.code === 'PAYMENT_ALREADY_CANCELLED') return { kind: 'voided' };
      return result;
    }),

    releaseStock: fromPromise<void, { paymentId: string }>(async ({ input }) => {
      await commit.run(() => releaseStock(conn, input.paymentId, clock()));
    }),
  };
}
