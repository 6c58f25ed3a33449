import { and, desc, eq, getTableColumns, isNotNull, isNull, gte, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { prepared, selectList } from './prepared.ts';
import { paymentTransitions, payments } from './schema.ts';

export type PaymentRow = typeof payments.$inferSelect;
export type NewPaymentRow = typeof payments.$inferInsert;
export type TransitionRow = typeof paymentTransitions.$inferSelect;

export interface Transition {
  type: string;
  /** Why, in words (see src/payments/transition-reason.ts); the event type when omitted. */
  reason?: string;
  from: string | null;
  to: string;
  at: number;
  /** Who and why, for operator actions. */
  detail?: Record<string, unknown> | undefined;
}

/** What the actor host writes after a payment's transitions. */
export interface SnapshotWrite {
  paymentId: string;
  /** Of the machine that wrote the snapshot: an upgraded one is stored as the current version. */
  machineVersion: number;
  state: string;
  status: string;
  failureCode: string | null;
  cancelledAmount: number;
  snapshot: string;
  /** undefined: leave the column as it is (the actor is still in the same wait). */
  dueAt: number | null | undefined;
  /** A step runs: neither resting nor waiting for a timer. */
  active: boolean;
  updatedAt: number;
  transitions: Transition[];
}

const TABLE_COLUMNS = getTableColumns(payments);
const COLUMNS = Object.keys(TABLE_COLUMNS) as Array<keyof NewPaymentRow>;
/** A plain insert names every column, so the schema's defaults are filled in here. */
const valueOf = (row: NewPaymentRow, column: keyof NewPaymentRow) => row[column] ?? TABLE_COLUMNS[column].default ?? null;

export function insertPayment(db: Db, row: NewPaymentRow, initial: Transition): void {
  prepared(db, 'insertPayment', () =>
    db.$client.prepare(
      `insert into payments (${COLUMNS.map((c) => `"${TABLE_COLUMNS[c].name}"`).join(', ')})
        values (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    ),
  ).run(Object.fromEntries(COLUMNS.map((c) => [c, valueOf(row, c)])));
  appendTransition(db, row.id, initial);
}

export function findPayment(db: Db, id: string): PaymentRow | undefined {
  return prepared(db, 'findPayment', () => db.$client.prepare(`select ${selectList(payments)} from payments where id = ?`)).get(
    id,
  ) as PaymentRow | undefined;
}

const ORDER_COLUMNS = ['id', 'customerId', 'amount', 'currency', 'items', 'orderName', 'billingKey', 'state'] as const;
/** What the payment's steps need to do their work: the order, without the snapshot. */
export type PaymentOrder = Pick<PaymentRow, (typeof ORDER_COLUMNS)[number]>;

export function findPaymentOrder(db: Db, id: string): PaymentOrder | undefined {
  return prepared(db, 'findPaymentOrder', () =>
    db.$client.prepare(`select ${selectList(payments, ORDER_COLUMNS)} from payments where id = ?`),
  ).get(id) as PaymentOrder | undefined;
}

const VIEW_COLUMNS = [
  'id',
  'status',
  'state',
  'amount',
  'cancelledAmount',
  'currency',
  'customerId',
  'partnerId',
  'items',
  'orderName',
  'metadata',
  'failureCode',
  'createdAt',
  'updatedAt',
] as const;
/** What the payment resource shows: the row without its snapshot and bookkeeping. */
export type PaymentViewRow = Pick<PaymentRow, (typeof VIEW_COLUMNS)[number]>;

export function findPaymentView(db: Db, id: string): PaymentViewRow | undefined {
  return prepared(db, 'findPaymentView', () =>
    db.$client.prepare(`select ${selectList(payments, VIEW_COLUMNS)} from payments where id = ?`),
  ).get(id) as PaymentViewRow | undefined;
}

export function findPaymentByIdempotencyKey(db: Db, key: string): PaymentRow | undefined {
  return prepared(db, 'findPaymentByKey', () =>
    db.$client.prepare(`select ${selectList(payments)} from payments where idempotency_key = ?`),
  ).get(key) as PaymentRow | undefined;
}

export class LeaseLost extends Error {
  override name = 'LeaseLost';
  /** Another process runs the payment now; this one's step resumes there (DESIGN: transient). */
  readonly retryable = true;
}

/**
 * Fences a step's write (rule 8): inside the write's own transaction, the payment must
 * still be leased to `owner`. A process paused past its lease while another took the
 * payment over must not reserve, release or fulfil behind the new owner's back.
 */
export function requireLease(db: Db, paymentId: string, owner: string): void {
  const leaseOwner = prepared(db, 'leaseOwner', () =>
    db.$client.prepare('select lease_owner from payments where id = ?').pluck(),
  ).get(paymentId);
  if (leaseOwner !== owner) throw new LeaseLost(`lease of ${paymentId} is not held by ${owner}`);
}

/**
 * Writes a snapshot, fenced by the lease: a process that lost its lease (paused past
 * the expiry while another took over) must not overwrite the new owner's state.
 */
export function writeSnapshot(db: Db, write: SnapshotWrite, owner: string): void {
  const update = prepared(db, 'writeSnapshot', () =>
    db.$client.prepare(`update payments set state = @state, status = @status, failure_code = @failureCode,
      cancelled_amount = @cancelledAmount, snapshot = @snapshot, machine_version = @machineVersion,
      updated_at = @updatedAt, active = @active,
      due_at = case when @keepDueAt = 1 then due_at else @dueAt end
      where id = @id and lease_owner = @owner`),
  );
  const result = update.run({
    id: write.paymentId,
    owner,
    state: write.state,
    status: write.status,
    failureCode: write.failureCode,
    cancelledAmount: write.cancelledAmount,
    snapshot: write.snapshot,
    machineVersion: write.machineVersion,
    updatedAt: write.updatedAt,
    active: write.active ? 1 : 0,
    keepDueAt: write.dueAt === undefined ? 1 : 0,
    dueAt: write.dueAt ?? null,
  });
  if (result.changes === 0) throw new LeaseLost(`lease of ${write.paymentId} is not held by ${owner}`);
  for (const transition of write.transitions) appendTransition(db, write.paymentId, transition);
}

function appendTransition(db: Db, paymentId: string, t: Transition): void {
  const insert = prepared(db, 'appendTransition', () =>
    db.$client.prepare(`insert into payment_transitions (payment_id, seq, type, reason, from_state, to_state, at, detail)
      select @paymentId, coalesce(max(seq), 0) + 1, @type, @reason, @from, @to, @at, @detail
      from payment_transitions where payment_id = @paymentId`),
  );
  insert.run({
    paymentId,
    type: t.type,
    reason: t.reason ?? t.type,
    from: t.from,
    to: t.to,
    at: t.at,
    detail: t.detail === undefined ? null : JSON.stringify(t.detail),
  });
}

export function listTransitions(db: Db, paymentId: string): TransitionRow[] {
  return db
    .select()
    .from(paymentTransitions)
    .where(eq(paymentTransitions.paymentId, paymentId))
    .orderBy(paymentTransitions.seq)
    .all();
}

/**
 * Records that charge attempt `attempt` is about to reach the PG. False when it was
 * recorded before: the call may already have happened, so the caller must not repeat it.
 */
export function markChargeStarted(db: Db, paymentId: string, attempt: number): boolean {
  const update = prepared(db, 'markChargeStarted', () =>
    db.$client.prepare('update payments set charges_started = @attempt where id = @id and charges_started < @attempt'),
  );
  return update.run({ id: paymentId, attempt }).changes === 1;
}

/** Takes the payment's lease when it is free, expired or already ours (rule 8). */
export function acquireLease(db: Db, paymentId: string, owner: string, now: number, ttlMs: number): boolean {
  const update = prepared(db, 'acquireLease', () =>
    db.$client.prepare(`update payments set lease_owner = @owner, lease_expires_at = @expiresAt
      where id = @id and (lease_owner is null or lease_owner = @owner or lease_expires_at < @now)`),
  );
  return update.run({ id: paymentId, owner, now, expiresAt: now + ttlMs }).changes === 1;
}

export function releaseLease(db: Db, paymentId: string, owner: string): void {
  prepared(db, 'releaseLease', () =>
    db.$client.prepare(`update payments set lease_owner = null, lease_expires_at = null where id = @id and lease_owner = @owner`),
  ).run({ id: paymentId, owner });
}

/**
 * Extends this process's leases of the payments it runs. Only those: a lease it failed to
 * release (a write refused) must expire, so another process can take the payment.
 */
export function renewLeases(db: Db, owner: string, paymentIds: string[], now: number, ttlMs: number): number {
  if (paymentIds.length === 0) return 0;
  return prepared(db, 'renewLeases', () =>
    db.$client.prepare(`update payments set lease_expires_at = @expiresAt
      where lease_owner = @owner and id in (select value from json_each(@ids))`),
  ).run({ owner, expiresAt: now + ttlMs, ids: JSON.stringify(paymentIds) }).changes;
}

export interface ListFilter {
  customerId?: string | undefined;
  status?: string | undefined;
  partnerId?: string | undefined;
  /** Created in [from, to) (epoch ms). */
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
  before?: { createdAt: number; id: string } | undefined;
}

/** Newest first; `before` is the last row of the previous page. */
export function listPayments(db: Db, filter: ListFilter): PaymentRow[] {
  const conditions: SQL[] = [];
  if (filter.customerId) conditions.push(eq(payments.customerId, filter.customerId));
  if (filter.status) conditions.push(eq(payments.status, filter.status));
  if (filter.partnerId) conditions.push(eq(payments.partnerId, filter.partnerId));
  if (filter.from !== undefined) conditions.push(gte(payments.createdAt, filter.from));
  if (filter.to !== undefined) conditions.push(lt(payments.createdAt, filter.to));
  if (filter.before) {
    const { createdAt, id } = filter.before;
    conditions.push(
      or(lt(payments.createdAt, createdAt), and(eq(payments.createdAt, createdAt), lt(payments.id, id))) as SQL,
    );
  }
  return db
    .select()
    .from(payments)
    .where(and(...conditions))
    .orderBy(desc(payments.createdAt), desc(payments.id))
    .limit(filter.limit)
    .all();
}

export function countByStatus(db: Db): Array<{ status: string; count: number }> {
  return db
    .select({ status: payments.status, count: sql<number>`count(*)` })
    .from(payments)
    .groupBy(payments.status)
    .all();
}

/** The payment's lease is free, expired, or `owner`'s own (a previous incarnation's). */
const leaseAvailable = (owner: string, now: number) =>
  or(isNull(payments.leaseOwner), eq(payments.leaseOwner, owner), lt(payments.leaseExpiresAt, now)) as SQL;

/**
 * Payments whose wait is over and that this instance may take: their lease is available
 * and their snapshot is of a machine version it can read (this one or older). Rows
 * another process holds, or only a newer version can read, would otherwise fill every
 * batch and starve the rest.
 */
export function findDue(db: Db, q: { now: number; owner: string; machineVersion: number; limit: number }): string[] {
  return db
    .select({ id: payments.id })
    .from(payments)
    .where(
      and(
        isNotNull(payments.dueAt),
        lte(payments.dueAt, q.now),
        lte(payments.machineVersion, q.machineVersion),
        leaseAvailable(q.owner, q.now),
      ),
    )
    .orderBy(payments.dueAt)
    .limit(q.limit)
    .all()
    .map((r) => r.id);
}

export interface RescueQuery {
  owner: string;
  now: number;
  machineVersion: number;
  limit: number;
}

/**
 * Payments the reconciler must drive on: this instance may take them (lease available,
 * machine version this one or older) and they are mid-step or their wait is overdue. The oldest
 * change first, so payments stuck longest come first.
 */
export function findNeedingRescue(db: Db, q: RescueQuery): Array<Pick<PaymentRow, 'id' | 'dueAt' | 'updatedAt'>> {
  return db
    .select({ id: payments.id, dueAt: payments.dueAt, updatedAt: payments.updatedAt })
    .from(payments)
    .where(
      and(
        lte(payments.machineVersion, q.machineVersion),
        leaseAvailable(q.owner, q.now),
        or(eq(payments.active, 1), lte(payments.dueAt, q.now)),
      ),
    )
    .orderBy(payments.updatedAt)
    .limit(q.limit)
    .all();
}
