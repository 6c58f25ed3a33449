import { randomUUID } from 'node:crypto';
import {
  cancellationsAfterEdit,
  fitsStatus,
  impliedCancelledAmount,
  LEDGER_FAILURE,
  ledgerRecord,
  statusChangedAt,
  type LedgerEdit,
} from './ledger-edit.ts';
import { PgApiError } from './pg-api-error.ts';

export type PaymentStatus = 'READY' | 'PENDING' | 'PAID' | 'FAILED' | 'PARTIAL_CANCELLED' | 'CANCELLED';

export interface ChargeRequest {
  billingKey: string;
  orderName: string;
  total: number;
  currency: string;
  customerId?: string;
}

export interface CancelRequest {
  amount?: number;
  reason: string;
  currentCancellableAmount?: number;
}

export interface Cancellation {
  id: string;
  pgCancellationId: string;
  amount: number;
  reason: string;
  requestedAt: string;
  cancelledAt: string;
}

export interface PaymentFailure {
  reason: string;
  pgCode: string;
  pgMessage: string;
}

export interface PaymentRecord extends ChargeRequest {
  id: string;
  /** A new one per charge attempt, as PortOne does when a failed payment is tried again. */
  transactionId: string;
  status: PaymentStatus;
  paidAmount: number;
  cancelledAmount: number;
  charges: number;
  pgTxId: string | null;
  paidAt: string | null;
  failedAt: string | null;
  failure: PaymentFailure | null;
  cancellations: Cancellation[];
  requestedAt: string;
  updatedAt: string;
  statusChangedAt: string;
}

export interface LedgerEntry {
  paymentId: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  paidAmount: number;
  cancelledAmount: number;
  /** How many times money was actually taken for this id (must never exceed 1). */
  charges: number;
  pgTxId: string | null;
  cancellations: Array<{ id: string; amount: number; reason: string; cancelledAt: string }>;
  requestedAt: string;
  updatedAt: string;
}

const SETTLED: ReadonlySet<PaymentStatus> = new Set(['PAID', 'PARTIAL_CANCELLED', 'CANCELLED']);

export type PaymentStore = ReturnType<typeof createPaymentStore>;

/**
 * The PG's books. Every method is synchronous, so a check and the write it guards
 * can never interleave with another request.
 */
export function createPaymentStore() {
  const payments = new Map<string, PaymentRecord>();
  const now = () => new Date().toISOString();

  function requirePayment(paymentId: string): PaymentRecord {
    const record = payments.get(paymentId);
    if (!record) throw new PgApiError(404, 'PAYMENT_NOT_FOUND', `payment ${paymentId} was not found`);
    return record;
  }

  function setStatus(record: PaymentRecord, status: PaymentStatus, at: string): void {
    record.status = status;
    record.updatedAt = at;
    record.statusChangedAt = at;
  }

  /** Starts a charge attempt, or continues the pending one a delayed request left behind. */
  function attempt(paymentId: string, request: ChargeRequest): PaymentRecord {
    const existing = payments.get(paymentId);
    if (existing?.status === 'PENDING') return existing;
    const at = now();
    const record: PaymentRecord = {
      ...request,
      id: paymentId,
      transactionId: randomUUID(),
      status: 'READY',
      paidAmount: 0,
      cancelledAmount: 0,
      charges: existing?.charges ?? 0,
      pgTxId: null,
      paidAt: null,
      failedAt: null,
      failure: null,
      cancellations: [],
      requestedAt: at,
      updatedAt: at,
      statusChangedAt: at,
    };
    payments.set(paymentId, record);
    return record;
  }

  return {
    get: (paymentId: string) => payments.get(paymentId),
    all: (): PaymentRecord[] => [...payments.values()],
    requirePayment,

    /** Refuses a charge for an id that is paid or still being charged; a FAILED id may be charged again. */
    assertChargeable(paymentId: string): void {
      const status = payments.get(paymentId)?.status;
      if (status === 'PENDING') throw new PgApiError(409, 'ALREADY_PAID', 'payment is being processed');
      if (status && SETTLED.has(status)) throw new PgApiError(409, 'ALREADY_PAID', `payment ${paymentId} is already paid`);
    },

    markPending(paymentId: string, request: ChargeRequest): PaymentRecord {
      const record = attempt(paymentId, request);
      setStatus(record, 'PENDING', record.requestedAt);
      return record;
    },

    markPaid(paymentId: string, request: ChargeRequest): PaymentRecord {
      const record = attempt(paymentId, request);
      const at = now();
      setStatus(record, 'PAID', at);
      record.paidAmount = record.total;
      record.charges += 1;
      record.pgTxId = `pgtx_${randomUUID()}`;
      record.paidAt = at;
      return record;
    },

    markFailed(paymentId: string, request: ChargeRequest, failure: PaymentFailure): PaymentRecord {
      const record = attempt(paymentId, request);
      const at = now();
      setStatus(record, 'FAILED', at);
      record.failedAt = at;
      record.failure = failure;
      return record;
    },

    cancel(paymentId: string, request: CancelRequest, requestedAt: string): { record: PaymentRecord; cancellation: Cancellation } {
      const record = requirePayment(paymentId);
      if (record.status === 'CANCELLED') {
        throw new PgApiError(409, 'PAYMENT_ALREADY_CANCELLED', `payment ${paymentId} is already cancelled`);
      }
      if (!SETTLED.has(record.status)) throw new PgApiError(409, 'PAYMENT_NOT_PAID', `payment ${paymentId} is not paid`);
      const cancellable = record.paidAmount - record.cancelledAmount;
      if (request.currentCancellableAmount !== undefined && request.currentCancellableAmount !== cancellable) {
        throw new PgApiError(409, 'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN', `cancellable amount is ${cancellable}`);
      }
      const amount = request.amount ?? cancellable;
      if (amount > cancellable) {
        throw new PgApiError(409, 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT', `at most ${cancellable} can be cancelled`);
      }
      const at = now();
      const cancellation: Cancellation = {
        id: randomUUID(),
        pgCancellationId: `pgcancel_${randomUUID()}`,
        amount,
        reason: request.reason,
        requestedAt,
        cancelledAt: at,
      };
      record.cancellations.push(cancellation);
      record.cancelledAmount += amount;
      setStatus(record, record.cancelledAmount === record.paidAmount ? 'CANCELLED' : 'PARTIAL_CANCELLED', at);
      return { record, cancellation };
    },

    /**
     * Rewrites the books with no charge, cancel or webhook, so a test can make the PG
     * disagree with the service; an unknown id becomes a new payment, PAID unless told.
     * What the edit leaves unsaid follows the status as a charge or cancel would set it.
     * An edit that cannot hold together is refused and changes nothing.
     */
    editLedger(paymentId: string, edit: LedgerEdit): PaymentRecord {
      const existing = payments.get(paymentId);
      const at = now();
      // When the edited state took effect unless told: now for a known payment, its creation for a new one.
      const changedAt = existing ? at : (edit.paidAt ?? edit.requestedAt ?? at);
      const before = existing ?? ledgerRecord(paymentId, edit.amount, changedAt);
      const status = edit.status ?? before.status;
      const settled = SETTLED.has(status);
      const requestedAt = edit.requestedAt ?? before.requestedAt;
      if (edit.paidAt !== undefined && !settled) {
        throw new PgApiError(400, 'INVALID_REQUEST', `paidAt does not fit a ${status} payment`);
      }
      const paidAt = settled ? (edit.paidAt ?? before.paidAt ?? changedAt) : null;
      if (paidAt !== null && Date.parse(paidAt) < Date.parse(requestedAt)) {
        throw new PgApiError(400, 'INVALID_REQUEST', 'paidAt is before requestedAt');
      }
      const total = edit.amount ?? before.total;
      const paidAmount = settled ? total : 0;
      const cancelledAmount = edit.cancelledAmount ?? impliedCancelledAmount(status, paidAmount, before.cancelledAmount);
      if (!fitsStatus(status, paidAmount, cancelledAmount)) {
        throw new PgApiError(400, 'INVALID_REQUEST', `cancelledAmount ${cancelledAmount} does not fit a ${status} payment of ${paidAmount}`);
      }
      const edited = {
        ...before,
        status,
        total,
        currency: edit.currency ?? before.currency,
        requestedAt,
        paidAt,
        paidAmount,
        cancelledAmount,
        pgTxId: settled ? (before.pgTxId ?? `pgtx_${randomUUID()}`) : null,
        charges: settled ? Math.max(before.charges, 1) : before.charges,
        failedAt: status === 'FAILED' ? (before.failedAt ?? changedAt) : null,
        failure: status === 'FAILED' ? (before.failure ?? LEDGER_FAILURE) : null,
        cancellations: cancellationsAfterEdit(before, cancelledAmount, changedAt),
        updatedAt: at,
      };
      const record: PaymentRecord = { ...edited, statusChangedAt: statusChangedAt(edited) };
      payments.set(paymentId, record);
      return record;
    },

    /** Forgets a payment, as if the PG never had it. */
    remove(paymentId: string): void {
      requirePayment(paymentId);
      payments.delete(paymentId);
    },

    ledger(): LedgerEntry[] {
      return [...payments.values()].map((record) => ({
        paymentId: record.id,
        status: record.status,
        amount: record.total,
        currency: record.currency,
        paidAmount: record.paidAmount,
        cancelledAmount: record.cancelledAmount,
        charges: record.charges,
        pgTxId: record.pgTxId,
        cancellations: record.cancellations.map(({ id, amount, reason, cancelledAt }) => ({ id, amount, reason, cancelledAt })),
        requestedAt: record.requestedAt,
        updatedAt: record.updatedAt,
      }));
    },
  };
}
