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
    // The console's partner filter: without it a filter for an unknown partner reads every row.
    index('payments_partner_created').on(t.partnerId, t.createdAt, t.id),
    // A partner's payments in one status (the console's usual view): without it, a partner
    // with many payments and none in that status is read whole on every request.
    index('payments_partner_status_created').on(t.partnerId, t.status, t.createdAt, t.id),
    // Lists by status come newest first: the index hands over the first page without a sort.
    index('payments_status_created').on(t.status, t.createdAt, t.id),
    index('payments_due').on(t.dueAt).where(sql`due_at is not null`),
    index('payments_active').on(t.updatedAt).where(sql`active = 1`),
    // Payments mid-step whose process stopped renewing their leases: the scheduler takes them over.
    index('payments_active_lease').on(t.leaseExpiresAt).where(sql`active = 1`),
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
    /** Why, in words: `pg.declined card_declined`, `pg.no_answer timeout` (null in rows from before it). */
    reason: text('reason'),
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
    /**
     * payment_step: a payment's compensation failed; webhook_delivery: an event ran out of
     * delivery retries; inbound_event: a message that starts a payment could not be processed.
     */
    kind: text('kind', { enum: ['payment_step', 'webhook_delivery', 'inbound_event'] })
      .notNull()
      .default('payment_step'),
    /** null for an inbound event that never became a payment. */
    paymentId: text('payment_id'),
    /** What failed: the machine step (AttentionStep), or the kind's own step. */
    step: text('step').notNull(),
    reason: text('reason').notNull(),
    /** resolved: the payment was settled by an operator's resolution or by the PG's own record. */
    status: text('status', { enum: ['open', 'retried', 'ignored', 'resolved'] }).notNull(),
    /** webhook_delivery: the event and endpoint whose delivery ran out of retries. */
    eventId: text('event_id'),
    endpointId: text('endpoint_id'),
    /** inbound_event: the raw message that could not be processed. */
    payload: text('payload'),
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

/**
 * The outbox: one event per change of a payment's public status, written in the
 * transaction that commits the change. `position` orders all events (the pull feed's
 * cursor); `sequence` counts each payment's events from 1 without gaps.
 */
export const paymentEvents = sqliteTable(
  'payment_events',
  {
    position: integer('position').primaryKey({ autoIncrement: true }),
    id: text('id').notNull(),
    paymentId: text('payment_id').notNull(),
    sequence: integer('sequence').notNull(),
    type: text('type').notNull(),
    occurredAt: integer('occurred_at').notNull(),
    /** JSON: the payment resource at that moment. */
    data: text('data').notNull(),
    /** When the message broker confirmed it (AMQP); null until then, or without a broker. */
    publishedAt: integer('published_at'),
    /**
     * Its place in the pull feed, given when it is handed to the webhook endpoints (null
     * until then). In the order events commit, which `position` is not when several
     * processes write at once: a feed or fan-out paging by position would pass over an
     * event that commits after a later one.
     */
    feedPosition: integer('feed_position'),
  },
  (t) => [
    uniqueIndex('payment_events_id').on(t.id),
    uniqueIndex('payment_events_sequence').on(t.paymentId, t.sequence),
    uniqueIndex('payment_events_feed').on(t.feedPosition),
    index('payment_events_feed_type').on(t.type, t.feedPosition),
    index('payment_events_unpublished').on(t.position).where(sql`published_at is null`),
    index('payment_events_not_fanned_out').on(t.position).where(sql`feed_position is null`),
  ],
);

/** A merchant's endpoint for signed payment events (Standard Webhooks). */
export const webhookEndpoints = sqliteTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  /** JSON: event types, or ["*"]. */
  events: text('events').notNull(),
  description: text('description'),
  /** whsec_…: shown only by GET …/:id. */
  secret: text('secret').notNull(),
  disabled: integer('disabled').notNull().default(0),
  createdAt: integer('created_at').notNull(),
});

/**
 * One event to send to one endpoint. A payment's events go out to an endpoint in
 * sequence order: a delivery waits while an earlier one of the same payment and endpoint
 * is pending. `claimed_by`/`claimed_until` keep two processes from sending one attempt.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    endpointId: text('endpoint_id').notNull(),
    eventId: text('event_id').notNull(),
    paymentId: text('payment_id').notNull(),
    sequence: integer('sequence').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'dead'] }).notNull(),
    /** Attempts made so far. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    claimedBy: text('claimed_by'),
    claimedUntil: integer('claimed_until'),
    deliveredAt: integer('delivered_at'),
    lastError: text('last_error'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event').on(t.endpointId, t.eventId),
    index('webhook_deliveries_due').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    index('webhook_deliveries_chain').on(t.endpointId, t.paymentId, t.sequence),
  ],
);

/** Every delivery attempt and how it ended, for the deliveries list. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: integer('delivery_id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    eventId: text('event_id').notNull(),
    attempt: integer('attempt').notNull(),
    status: text('status', { enum: ['delivered', 'failed'] }).notNull(),
    responseStatus: integer('response_status'),
    durationMs: integer('duration_ms').notNull(),
    error: text('error'),
    at: integer('at').notNull(),
  },
  (t) => [index('webhook_attempts_endpoint').on(t.endpointId, t.id)],
);

/**
 * Money the PG moved for a payment, written with the transition that learned it: what
 * daily settlement adds up. `at`: when the PG took the money (a charge, as the PG said),
 * or when the money went back (a refund or a void).
 */
export const moneyMovements = sqliteTable(
  'money_movements',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    paymentId: text('payment_id').notNull(),
    kind: text('kind', { enum: ['charge', 'refund', 'void'] }).notNull(),
    amount: integer('amount').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('money_movements_at').on(t.at), index('money_movements_payment').on(t.paymentId)],
);

/** A seller whose products are sold here, and the fee taken from its takings. */
export const partners = sqliteTable('partners', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Basis points of each payment's amount (0–10000). */
  feeRateBps: integer('fee_rate_bps').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * The settlement run of one business date: a persisted settlement actor, resumed after
 * a crash as payments are. A re-run of the date is an event to the same actor.
 */
export const settlementRuns = sqliteTable(
  'settlement_runs',
  {
    date: text('date').primaryKey(),
    state: text('state').notNull(),
    status: text('status', { enum: ['requested', 'processing', 'completed', 'failed'] }).notNull(),
    /** JSON of actor.getPersistedSnapshot(). */
    snapshot: text('snapshot').notNull(),
    machineVersion: integer('machine_version').notNull(),
    /** How many times the date was asked to run (by the schedule or an operator). */
    requests: integer('requests').notNull(),
    /** When it was last asked: the schedule asks again for a date last asked before it ended. */
    requestedAt: integer('requested_at').notNull(),
    /** 1 while a request waits for a run that starts after it (a run already under way does not answer it). */
    pending: integer('pending').notNull(),
    /** JSON: the last check's discrepancies of PG payments no partner carries (never made here). */
    unattributed: text('unattributed').notNull().default('[]'),
    dueAt: integer('due_at'),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('settlement_runs_status').on(t.status), index('settlement_runs_pending').on(t.pending).where(sql`pending = 1`)],
);

/** One partner's takings on one business date; a re-run of the date replaces its figures. */
export const settlements = sqliteTable(
  'settlements',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id').notNull(),
    date: text('date').notNull(),
    status: text('status', { enum: ['requested', 'processing', 'completed', 'failed'] }).notNull(),
    currency: text('currency').notNull(),
    paymentCount: integer('payment_count').notNull().default(0),
    grossAmount: integer('gross_amount').notNull().default(0),
    refundCount: integer('refund_count').notNull().default(0),
    refundAmount: integer('refund_amount').notNull().default(0),
    feeAmount: integer('fee_amount').notNull().default(0),
    netAmount: integer('net_amount').notNull().default(0),
    /** JSON: [{ paymentId, kind, ours, pg }] from the last check against the PG. */
    discrepancies: text('discrepancies').notNull().default('[]'),
    createdAt: integer('created_at').notNull(),
    completedAt: integer('completed_at'),
  },
  (t) => [uniqueIndex('settlements_partner_date').on(t.partnerId, t.date), index('settlements_date').on(t.date)],
);

/** What a settlement adds up: each payment counted (with its fee) and each refund. */
export const settlementLines = sqliteTable(
  'settlement_lines',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    settlementId: text('settlement_id').notNull(),
    paymentId: text('payment_id').notNull(),
    kind: text('kind', { enum: ['payment', 'refund'] }).notNull(),
    amount: integer('amount').notNull(),
    fee: integer('fee').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('settlement_lines_settlement').on(t.settlementId, t.at)],
);
