import type { Payment, Webhook } from '@portone/server-sdk';
import type { Cancellation, PaymentRecord } from './payment-store.ts';

// The SDK's types are the specification; `satisfies` keeps these shapes honest.

const MERCHANT_ID = 'merchant-mock-pg';

export function toCancellationView(cancellation: Cancellation) {
  return {
    status: 'SUCCEEDED',
    id: cancellation.id,
    pgCancellationId: cancellation.pgCancellationId,
    totalAmount: cancellation.amount,
    taxFreeAmount: 0,
    vatAmount: 0,
    reason: cancellation.reason,
    cancelledAt: cancellation.cancelledAt,
    requestedAt: cancellation.requestedAt,
  } satisfies Payment.SucceededPaymentCancellation;
}

/**
 * The Payment object of `GET /payments/:id`. An in-flight delayed charge is reported
 * as `PENDING` (the status set of this project's API.md), not PortOne's `PAY_PENDING`.
 */
export function toPaymentView(record: PaymentRecord, storeId: string) {
  const common = {
    id: record.id,
    transactionId: record.transactionId,
    merchantId: MERCHANT_ID,
    storeId,
    channel: { type: 'LIVE', pgProvider: 'NICE_V2', pgMerchantId: `nice-${storeId}` },
    version: 'V2',
    billingKey: record.billingKey,
    requestedAt: record.requestedAt,
    updatedAt: record.updatedAt,
    statusChangedAt: record.statusChangedAt,
    orderName: record.orderName,
    amount: {
      total: record.total,
      taxFree: 0,
      discount: 0,
      paid: record.paidAmount,
      cancelled: record.cancelledAmount,
      cancelledTaxFree: 0,
    },
    currency: record.currency,
    customer: record.customerId === undefined ? {} : { id: record.customerId },
  };
  const settled = {
    ...common,
    // Set whenever money was taken, which every settled status implies.
    paidAt: record.paidAt!,
    pgTxId: record.pgTxId!,
    cancellations: record.cancellations.map(toCancellationView),
  };
  const lastCancelledAt = record.cancellations.at(-1)?.cancelledAt ?? record.statusChangedAt;

  switch (record.status) {
    case 'READY':
      return { ...common, status: 'READY' } satisfies Payment.ReadyPayment;
    case 'PENDING':
      return { ...common, status: 'PENDING' };
    case 'FAILED':
      return {
        ...common,
        status: 'FAILED',
        failedAt: record.failedAt!,
        failure: record.failure!,
      } satisfies Payment.FailedPayment;
    case 'PAID':
      return { ...settled, status: 'PAID', disputes: [] } satisfies Payment.PaidPayment;
    case 'PARTIAL_CANCELLED':
      return { ...settled, status: 'PARTIAL_CANCELLED', cancelledAt: lastCancelledAt } satisfies Payment.PartialCancelledPayment;
    case 'CANCELLED':
      return { ...settled, status: 'CANCELLED', cancelledAt: lastCancelledAt } satisfies Payment.CancelledPayment;
  }
}

export type PaymentView = ReturnType<typeof toPaymentView>;

export type TransactionWebhook =
  | Webhook.WebhookTransactionPayPending
  | Webhook.WebhookTransactionPaid
  | Webhook.WebhookTransactionFailed
  | Webhook.WebhookTransactionCancelledCancelled
  | Webhook.WebhookTransactionCancelledPartialCancelled;

/** The webhook announcing the record's current status; READY is never announced. */
export function toTransactionWebhook(record: PaymentRecord, storeId: string): TransactionWebhook | undefined {
  const timestamp = record.statusChangedAt;
  const data = { paymentId: record.id, storeId, transactionId: record.transactionId };
  const lastCancellation = record.cancellations.at(-1);
  switch (record.status) {
    case 'READY':
      return undefined;
    case 'PENDING':
      return { type: 'Transaction.PayPending', timestamp, data };
    case 'PAID':
      return { type: 'Transaction.Paid', timestamp, data };
    case 'FAILED':
      return { type: 'Transaction.Failed', timestamp, data };
    case 'PARTIAL_CANCELLED':
      return { type: 'Transaction.PartialCancelled', timestamp, data: { ...data, cancellationId: lastCancellation!.id } };
    case 'CANCELLED':
      return { type: 'Transaction.Cancelled', timestamp, data: { ...data, cancellationId: lastCancellation!.id } };
  }
}
