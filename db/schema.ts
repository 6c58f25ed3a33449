import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

// Times are integer epoch milliseconds; money is integer minor units (rule 1).

export const products = sqliteTable('products', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  price: integer('price').notNull(),
  currency: text('currency').notNull().default('KRW'),
  /** What is still available to reserve. */
  stock: integer('stock').notNull(),
  /** Units ever put on sale: conservation says total = available + held by reservations. */
  totalStock: integer('total_stock').notNull().default(0),
  partnerId: text('partner_id').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const payments = sqliteTable(
  'payments',
  {
    id: text('id').primaryKey(),
    idempotencyKey: text('idempotency_key').notNull(),
    requestFingerprint: text('request_fingerprint').notNull(),
    customerId: text('customer_id').notNull(),
    partnerId: text('partner_id').notNull(),
    amount: integer('amount').notNull(),
    cancelledAmount: integer('cancelled_amount').notNull().default(0),
    currency: text('currency').notNull(),
    /** JSON: [{ productId, quantity, unitPrice }] */
    items: text('items').notNull(),
    orderName: text('order_name').notNull(),
    /** Needed to charge again after a restart; never logged. */
    billingKey: text('billing_key').notNull(),
    metadata: text('metadata'),
    state: text('state').notNull(),
    status: text('status').notNull(),
    failureCode: text('failure_code'),
    /** JSON of actor.getPersistedSnapshot(). */
    snapshot: text('snapshot').notNull(),
    machineVersion: integer('machine_version').notNull(),
    /** When a waiting actor must be woken; null when not waiting. */
    dueAt: integer('due_at'),
    /**
     * 1 while a step runs (the state neither rests nor waits for a timer): a payment the
     * reconciler drives on when its process died or the step is stuck.
     */
    active: integer('active').notNull().default(0),
    /** Highest charge attempt whose PG call was started (see chargePayment). */
    chargesStarted: integer('charges_started').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('payments_idempotency_key').on(t.idempotencyKey),
    index('payments_created').on(t.createdAt, t.id),
    index('payments_customer_created').on(t.customerId, t.createdAt, t.id),
    // Lists by status come newest first: the index hands over the first page without a sort.
    index('payments_status_created').on(t.status, t.createdAt, t.id),
    index('payments_due').on(t.dueAt).where(sql`due_at is not null`),
    index('payments_active').on(t.updatedAt).where(sql`active = 1`),
  ],
);

export const stockReservations = sqliteTable(
  'stock_reservations',
  {
    paymentId: text('payment_id').notNull(),
    productId: text('product_id').notNull(),
    quantity: integer('quantity').notNull(),
    /** 'reserved' until released; a released row is never released again. */
    status: text('status', { enum: ['reserved', 'released'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    releasedAt: integer('released_at'),
  },
  (t) => [primaryKey({ columns: [t.paymentId, t.productId] }), index('reservations_product').on(t.productId, t.status)],
);

export const fulfilments = sqliteTable('fulfilments', {
  paymentId: text('payment_id').primaryKey(),
  customerId: text('customer_id').notNull(),
  /** JSON: the items handed over (seats enrolled, books shipped). */
  items: text('items').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const paymentTransitions = sqliteTable(
  'payment_transitions',
  {
    paymentId: text('payment_id').notNull(),
    seq: integer('seq').notNull(),
    type: text('type').notNull(),
    fromState: text('from_state'),
    toState: text('to_state').notNull(),
    at: integer('at').notNull(),
    /** JSON: who did it and why, for operator actions. */
    detail: text('detail'),
  },
  (t) => [primaryKey({ columns: [t.paymentId, t.seq] })],
);

/** The dead-letter queue: work that failed for good and needs an operator. */
export const failedEvents = sqliteTable(
  'failed_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** payment_step: a payment's compensation failed (more kinds come with payment events). */
    kind: text('kind', { enum: ['payment_step', 'webhook_delivery', 'inbound_event'] })
      .notNull()
      .default('payment_step'),
    paymentId: text('payment_id').notNull(),
    /** The machine step that failed (AttentionStep). */
    step: text('step').notNull(),
    reason: text('reason').notNull(),
    /** resolved: the payment was settled by an operator's resolution or by the PG's own record. */
    status: text('status', { enum: ['open', 'retried', 'ignored', 'resolved'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    resolvedBy: text('resolved_by'),
    note: text('note'),
  },
  (t) => [index('failed_events_status').on(t.status, t.id), index('failed_events_payment').on(t.paymentId)],
);

/** Alerts are written with the state change that raised them and delivered later, so a crash loses none. */
export const alerts = sqliteTable(
  'alerts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    paymentId: text('payment_id'),
    severity: text('severity', { enum: ['warning', 'urgent'] }).notNull(),
    title: text('title').notNull(),
    /** JSON of the details posted with the alert. */
    details: text('details').notNull(),
    createdAt: integer('created_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    deliveredAt: integer('delivered_at'),
    lastError: text('last_error'),
  },
  (t) => [index('alerts_pending').on(t.nextAttemptAt).where(sql`delivered_at is null`)],
);

/** Named locks across processes sharing the file (one reconciler pass at a time). */
export const locks = sqliteTable('locks', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: integer('expires_at').notNull(),
});

/** A customer's refund request; written with the transition that accepts it. */
export const cancellations = sqliteTable(
  'cancellations',
  {
    id: text('id').primaryKey(),
    paymentId: text('payment_id').notNull(),
    /** The PG's Idempotency-Key for this cancellation: payment id + cancellation number. */
    seq: integer('seq').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    requestFingerprint: text('request_fingerprint').notNull(),
    amount: integer('amount').notNull(),
    reason: text('reason').notNull(),
    status: text('status', { enum: ['requested', 'succeeded', 'failed'] }).notNull(),
    /** PG cancel calls started for it, each committed before the call: a resend asks the PG first. */
    pgCalls: integer('pg_calls').notNull().default(0),
    requestedAt: integer('requested_at').notNull(),
    completedAt: integer('completed_at'),
  },
  (t) => [uniqueIndex('cancellations_key').on(t.paymentId, t.idempotencyKey)],
);

/** Every PG cancel attempt and how it ended: the failure history of a refund. */
export const refundAttempts = sqliteTable(
  'refund_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    paymentId: text('payment_id').notNull(),
    cancellationId: text('cancellation_id').notNull(),
    at: integer('at').notNull(),
    /** succeeded | transient (network, timeout, 5xx) | permanent (the PG refused). */
    outcome: text('outcome', { enum: ['succeeded', 'transient', 'permanent'] }).notNull(),
    pgCode: text('pg_code'),
    message: text('message'),
  },
  (t) => [index('refund_attempts_cancellation').on(t.cancellationId)],
);

/**
 * Webhook ids claimed or handled, so a repeated delivery does nothing twice. A claim
 * that was never finished (the process died, the PG did not answer) can be taken
 * again once `claimed_until` passes.
 */
export const webhookReceipts = sqliteTable('webhook_receipts', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  paymentId: text('payment_id'),
  receivedAt: integer('received_at').notNull(),
  status: text('status', { enum: ['processing', 'done'] })
    .notNull()
    .default('done'),
  claimedUntil: integer('claimed_until').notNull().default(0),
});
