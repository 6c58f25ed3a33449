import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Cancellation, PaymentFailure, PaymentRecord, PaymentStatus } from './payment-store.ts';
import { PgApiError } from './pg-api-error.ts';
import { instant } from './request-input.ts';

/** Kept in the records' own format, so every view shows an instant the same way. */
const timestamp = instant.transform((ms) => new Date(ms).toISOString());

/**
 * `PUT /__ledger/:paymentId`: the fields a test sets in the PG's books. `cancelledAmount`
 * is how much went back; only a PARTIAL_CANCELLED payment needs it said.
 */
export const ledgerEditSchema = z
  .object({
    status: z.enum(['PAID', 'FAILED', 'CANCELLED', 'PARTIAL_CANCELLED']),
    amount: z.number().int().positive(),
    cancelledAmount: z.number().int().nonnegative(),
    paidAt: timestamp,
    requestedAt: timestamp,
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  })
  .partial()
  .strict();

export type LedgerEdit = z.infer<typeof ledgerEditSchema>;
/** What an in-process caller passes: timestamps as RFC 3339 text, as over HTTP. */
export type LedgerChanges = z.input<typeof ledgerEditSchema>;

export const LEDGER_FAILURE: PaymentFailure = {
  reason: 'ledger edit',
  pgCode: 'LEDGER_EDIT',
  pgMessage: 'Marked as failed by a ledger edit',
};

/** A payment the PG never charged through its API: where an edit of an unknown id starts. */
export function ledgerRecord(paymentId: string, amount: number | undefined, createdAt: string): PaymentRecord {
  if (amount === undefined) throw new PgApiError(400, 'INVALID_REQUEST', 'amount is needed to create a payment');
  return {
    id: paymentId,
    transactionId: randomUUID(),
    billingKey: 'bk_ledger_edit',
    orderName: 'ledger edit',
    total: amount,
    currency: 'KRW',
    status: 'PAID',
    paidAmount: 0,
    cancelledAmount: 0,
    charges: 0,
    pgTxId: null,
    paidAt: null,
    failedAt: null,
    failure: null,
    cancellations: [],
    requestedAt: createdAt,
    updatedAt: createdAt,
    statusChangedAt: createdAt,
  };
}

/** The cancelled amount a status implies when the edit does not say it. */
export function impliedCancelledAmount(status: PaymentStatus, paidAmount: number, current: number): number {
  if (status === 'CANCELLED') return paidAmount;
  return status === 'PARTIAL_CANCELLED' ? current : 0;
}

export function fitsStatus(status: PaymentStatus, paidAmount: number, cancelledAmount: number): boolean {
  if (status === 'PARTIAL_CANCELLED') return cancelledAmount > 0 && cancelledAmount < paidAmount;
  return cancelledAmount === (status === 'CANCELLED' ? paidAmount : 0);
}

/** One made-up cancellation covers any change, so the cancellations always add up to the cancelled amount. */
export function cancellationsAfterEdit(before: PaymentRecord, cancelledAmount: number, at: string): Cancellation[] {
  const added = cancelledAmount - before.cancelledAmount;
  if (added === 0) return before.cancellations;
  if (added > 0) return [...before.cancellations, ledgerCancellation(added, at)];
  return cancelledAmount === 0 ? [] : [ledgerCancellation(cancelledAmount, at)];
}

function ledgerCancellation(amount: number, at: string): Cancellation {
  return {
    id: randomUUID(),
    pgCancellationId: `pgcancel_${randomUUID()}`,
    amount,
    reason: 'ledger edit',
    requestedAt: at,
    cancelledAt: at,
  };
}

/** The instant PortOne's STATUS_CHANGED_AT stands for, as a charge or cancel sets it. */
export function statusChangedAt(record: Omit<PaymentRecord, 'statusChangedAt'>): string {
  switch (record.status) {
    case 'PAID':
      return record.paidAt!;
    case 'FAILED':
      return record.failedAt!;
    case 'PARTIAL_CANCELLED':
    case 'CANCELLED':
      return record.cancellations.at(-1)!.cancelledAt;
    case 'READY':
    case 'PENDING':
      return record.requestedAt;
  }
}
