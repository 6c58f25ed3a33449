import { insertRows } from './insert-row.ts';
import { leaseLost, paymentsNotLeased, type Fence } from './lease-fence.ts';
import { paymentTransitions, payments } from './schema.ts';
import { selectList } from './select-list.ts';
import { insertEvery, jsonList, jsonRows, skipLocked, type BatchWrite, type JsonRow, type Sql, type Tx } from './sql.ts';

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

const INSERT_PAYMENTS = insertRows(payments, 'on conflict (idempotency_key) do nothing returning id');
type PaymentInsert = ReturnType<typeof INSERT_PAYMENTS.row>;

/** Another payment holds the new payment's idempotency key: two requests with one key raced. */
export class IdempotencyKeyHeld extends Error {
  override name = 'IdempotencyKeyHeld';
}

/** Inserts the batch's new payments; a payment whose idempotency key is taken (by another, or by an earlier row) is refused. */
const insertPayments: BatchWrite<PaymentInsert> = async (q, rows) => {
  const inserted = new Set((await q.all<{ id: string }>(INSERT_PAYMENTS.text(q), { rows: JSON.stringify(rows) })).map((row) => row.id));
  return new Map(
    rows
      .filter((row) => !inserted.has(row.id as string))
      .map((row) => [row, new IdempotencyKeyHeld(`the idempotency key of ${String(row.id)} is held by another payment`)]),
  );
};

/**
 * Inserts a payment with its first transition, with the batch's other new payments. The
 * job fails with IdempotencyKeyHeld, inserting nothing, when another payment holds the
 * key (two requests raced).
 */
export async function insertPayment(tx: Tx, row: NewPaymentRow, initial: Transition): Promise<void> {
  await tx.later(insertPayments, INSERT_PAYMENTS.row(row));
  await appendTransition(tx, row.id, initial);
}

const FIND_PAYMENT = `select ${selectList(payments)} from payments where id = @id`;

export function findPayment(q: Sql, id: string): Promise<PaymentRow | undefined> {
  return q.get<PaymentRow>(FIND_PAYMENT, { id });
}

const ORDER_COLUMNS = [
  'id',
  'customerId',
  'partnerId',
  'amount',
  'currency',
  'items',
  'orderName',
  'metadata',
  'billingKey',
  'createdAt',
  'state',
] as const;
/** What the payment's steps need to do their work, and its events to show it: the order, without the snapshot. */
export type PaymentOrder = Pick<PaymentRow, (typeof ORDER_COLUMNS)[number]>;
const FIND_ORDER = `select ${selectList(payments, ORDER_COLUMNS)} from payments where id = @id`;

export function findPaymentOrder(q: Sql, id: string): Promise<PaymentOrder | undefined> {
  return q.get<PaymentOrder>(FIND_ORDER, { id });
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

/** A new payment's row as the payment resource shows it: nothing cancelled or failed yet. */
export function newPaymentView(row: Omit<PaymentViewRow, 'cancelledAmount' | 'failureCode'>): PaymentViewRow {
  return { ...row, cancelledAmount: 0, failureCode: null };
}

const FIND_BY_KEY = `select ${selectList(payments)} from payments where idempotency_key = @key`;

export function findPaymentByIdempotencyKey(q: Sql, key: string): Promise<PaymentRow | undefined> {
  return q.get<PaymentRow>(FIND_BY_KEY, { key });
}

const SNAPSHOT_COLUMNS = {
  id: 'text',
  owner: 'text',
  state: 'text',
  status: 'text',
  failure_code: 'text',
  cancelled_amount: 'bigint',
  snapshot: 'text',
  machine_version: 'bigint',
  updated_at: 'bigint',
  active: 'bigint',
  keep_due_at: 'bigint',
  due_at: 'bigint',
} as const;
type SnapshotRow = JsonRow<typeof SNAPSHOT_COLUMNS, 'failure_code' | 'due_at'>;

const writeSnapshotRows = (q: Sql) => `update payments set state = r.state, status = r.status, failure_code = r.failure_code,
  cancelled_amount = r.cancelled_amount, snapshot = r.snapshot, machine_version = r.machine_version,
  updated_at = r.updated_at, active = r.active,
  due_at = case when r.keep_due_at = 1 then payments.due_at else r.due_at end
  from ${jsonRows(q, 'rows', SNAPSHOT_COLUMNS)}
  where payments.id = r.id and payments.lease_owner = r.owner
  returning payments.id as id`;

/**
 * Writes the batch's snapshots, fenced by the lease: a process that lost its lease
 * (paused past the expiry while another took over) must not overwrite the new owner's
 * state; its row is refused. One statement per run of distinct payments: an update
 * joining two rows of one payment would apply only one.
 */
const writeSnapshots: BatchWrite<SnapshotRow> = async (q, rows) => {
  const refused = new Map<SnapshotRow, Error>();
  for (const run of distinctRuns(rows, (row) => row.id)) {
    const written = new Set((await q.all<{ id: string }>(writeSnapshotRows(q), { rows: JSON.stringify(run) })).map((row) => row.id));
    for (const row of run) if (!written.has(row.id)) refused.set(row, leaseLost({ paymentId: row.id, owner: row.owner }));
  }
  return refused;
};

/** `rows` cut, in order, into runs in which no key repeats. */
function distinctRuns<Row>(rows: Row[], key: (row: Row) => string): Row[][] {
  const runs: Row[][] = [];
  let keys = new Set<string>();
  for (const row of rows) {
    if (runs.length === 0 || keys.has(key(row))) {
      runs.push([]);
      keys = new Set();
    }
    keys.add(key(row));
    runs.at(-1)!.push(row);
  }
  return runs;
}

/** Writes a snapshot and appends its transitions, with the batch's others (see `writeSnapshots`). */
export async function writeSnapshot(tx: Tx, write: SnapshotWrite, owner: string): Promise<void> {
  await tx.later(writeSnapshots, {
    id: write.paymentId,
    owner,
    state: write.state,
    status: write.status,
    failure_code: write.failureCode,
    cancelled_amount: write.cancelledAmount,
    snapshot: write.snapshot,
    machine_version: write.machineVersion,
    updated_at: write.updatedAt,
    active: write.active ? 1 : 0,
    keep_due_at: write.dueAt === undefined ? 1 : 0,
    due_at: write.dueAt ?? null,
  });
  for (const transition of write.transitions) await appendTransition(tx, write.paymentId, transition);
}

const TRANSITION_COLUMNS = {
  payment_id: 'text',
  type: 'text',
  reason: 'text',
  from_state: 'text',
  to_state: 'text',
  at: 'bigint',
  detail: 'text',
} as const;

/** Each payment's transitions are numbered on from its last: seq 1, 2, 3… without gaps. */
const appendTransitionRows = (q: Sql) => `insert into payment_transitions (payment_id, seq, type, reason, from_state, to_state, at, detail)
  select r.payment_id,
    coalesce((select max(t.seq) from payment_transitions t where t.payment_id = r.payment_id), 0)
      + row_number() over (partition by r.payment_id order by r.ord),
    r.type, r.reason, r.from_state, r.to_state, r.at, r.detail
  from ${jsonRows(q, 'rows', TRANSITION_COLUMNS)}
  order by r.ord`;

const appendTransitions = insertEvery<JsonRow<typeof TRANSITION_COLUMNS, 'from_state' | 'detail'>>(appendTransitionRows);

/** Appends a payment's next transition, with the batch's others (see `appendTransitionRows`). */
export function appendTransition(tx: Tx, paymentId: string, t: Transition): Promise<void> {
  return tx.later(appendTransitions, {
    payment_id: paymentId,
    type: t.type,
    reason: t.reason ?? t.type,
    from_state: t.from,
    to_state: t.to,
    at: t.at,
    detail: t.detail === undefined ? null : JSON.stringify(t.detail),
  });
}

export function listTransitions(q: Sql, paymentId: string): Promise<TransitionRow[]> {
  return q.all<TransitionRow>(`select ${selectList(paymentTransitions)} from payment_transitions where payment_id = @paymentId order by seq`, {
    paymentId,
  });
}

/**
 * A charge attempt's mark, written with the batch's others. `firstCall` is final once the
 * job's batch is committed: false when the attempt was marked before, so the call may
 * already have happened and must not be repeated.
 */
export interface ChargeMark {
  paymentId: string;
  owner: string;
  attempt: number;
  firstCall: boolean;
}

const CHARGE_MARK_COLUMNS = { payment_id: 'text', owner: 'text', attempt: 'bigint' } as const;

const markChargeRows = (q: Sql) => `update payments set charges_started = r.attempt
  from ${jsonRows(q, 'rows', CHARGE_MARK_COLUMNS)}
  where payments.id = r.payment_id and payments.lease_owner = r.owner and payments.charges_started < r.attempt
  returning payments.id as id`;

/**
 * Marks the batch's charge attempts started. A mark not written was written before (a
 * resumed attempt: not its first call) or its lease is gone (refused, LeaseLost): only
 * those are looked at again.
 */
const markChargesStarted: BatchWrite<ChargeMark> = async (q, marks) => {
  const refused = new Map<ChargeMark, Error>();
  for (const run of distinctRuns(marks, (mark) => mark.paymentId)) {
    const rows = run.map((mark) => ({ payment_id: mark.paymentId, owner: mark.owner, attempt: mark.attempt }));
    const marked = new Set((await q.all<{ id: string }>(markChargeRows(q), { rows: JSON.stringify(rows) })).map((row) => row.id));
    const unmarked = rows.filter((row) => !marked.has(row.payment_id));
    const unleased = unmarked.length === 0 ? new Set<string>() : await paymentsNotLeased(q, unmarked);
    for (const mark of run) {
      if (marked.has(mark.paymentId)) mark.firstCall = true;
      else if (unleased.has(mark.paymentId)) refused.set(mark, leaseLost(mark));
    }
  }
  return refused;
};

/**
 * Records, with the batch's others, that charge attempt `attempt` is about to reach the
 * PG; read `firstCall` once the job's batch is committed. Fenced: the job fails with
 * LeaseLost when another process holds the payment now.
 */
export async function markChargeStarted(tx: Tx, fence: Fence, attempt: number): Promise<ChargeMark> {
  // Not the first call until the batch write marked it: a mark it never saw sends nothing.
  const mark: ChargeMark = { ...fence, attempt, firstCall: false };
  await tx.later(markChargesStarted, mark);
  return mark;
}

/** The payment's lease is free, expired, or `owner`'s own (a previous incarnation's). */
const LEASE_AVAILABLE = '(lease_owner is null or lease_owner = @owner or lease_expires_at < @now)';

/** Takes the payment's lease when it is free, expired or already ours (rule 8). */
export async function acquireLease(q: Sql, paymentId: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
  const changed = await q.run(`update payments set lease_owner = @owner, lease_expires_at = @expiresAt where id = @id and ${LEASE_AVAILABLE}`, {
    id: paymentId,
    owner,
    now,
    expiresAt: now + ttlMs,
  });
  return changed === 1;
}

/**
 * Takes the leases of those of `paymentIds` that are available, in one statement; returns
 * the ids taken. A row another process is leasing at this moment is passed over, not
 * waited for: it is that process's now.
 */
export async function acquireLeases(q: Sql, paymentIds: string[], owner: string, now: number, ttlMs: number): Promise<string[]> {
  if (paymentIds.length === 0) return [];
  const rows = await q.all<{ id: string }>(
    `update payments set lease_owner = @owner, lease_expires_at = @expiresAt
      where id in (select id from payments where id in ${jsonList(q, 'ids')} and ${LEASE_AVAILABLE} ${skipLocked(q)})
      returning id`,
    { ids: JSON.stringify(paymentIds), owner, now, expiresAt: now + ttlMs },
  );
  return rows.map((row) => row.id);
}

/** Gives up `owner`'s leases of the payments (one statement), so that any process may take them. */
export async function releaseLeases(q: Sql, paymentIds: string[], owner: string): Promise<void> {
  if (paymentIds.length === 0) return;
  await q.run(`update payments set lease_owner = null, lease_expires_at = null where lease_owner = @owner and id in ${jsonList(q, 'ids')}`, {
    ids: JSON.stringify(paymentIds),
    owner,
  });
}

/**
 * Extends this process's leases of the payments it runs. Only those: a lease it failed to
 * release (a write refused) must expire, so another process can take the payment.
 */
export function renewLeases(q: Sql, owner: string, paymentIds: string[], now: number, ttlMs: number): Promise<number> {
  if (paymentIds.length === 0) return Promise.resolve(0);
  return q.run(`update payments set lease_expires_at = @expiresAt where lease_owner = @owner and id in ${jsonList(q, 'ids')}`, {
    owner,
    expiresAt: now + ttlMs,
    ids: JSON.stringify(paymentIds),
  });
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
export function listPayments(q: Sql, filter: ListFilter): Promise<PaymentRow[]> {
  const conditions = ['1 = 1'];
  if (filter.customerId) conditions.push('customer_id = @customerId');
  if (filter.status) conditions.push('status = @status');
  if (filter.partnerId) conditions.push('partner_id = @partnerId');
  if (filter.from !== undefined) conditions.push('created_at >= @from');
  if (filter.to !== undefined) conditions.push('created_at < @to');
  if (filter.before) conditions.push('(created_at < @beforeAt or (created_at = @beforeAt and id < @beforeId))');
  return q.all<PaymentRow>(
    `select ${selectList(payments)} from payments where ${conditions.join(' and ')}
      order by created_at desc, id desc limit @limit`,
    {
      customerId: filter.customerId,
      status: filter.status,
      partnerId: filter.partnerId,
      from: filter.from,
      to: filter.to,
      beforeAt: filter.before?.createdAt,
      beforeId: filter.before?.id,
      limit: filter.limit,
    },
  );
}

export function countByStatus(q: Sql): Promise<Array<{ status: string; count: number }>> {
  return q.all('select status, count(*) as count from payments group by status');
}

/**
 * Payments whose wait is over and that this instance may take: their lease is available
 * and their snapshot is of a machine version it can read (this one or older). Rows
 * another process holds, or only a newer version can read, would otherwise fill every
 * batch and starve the rest.
 */
export async function findDue(q: Sql, query: { now: number; owner: string; machineVersion: number; limit: number }): Promise<string[]> {
  const rows = await q.all<{ id: string }>(
    `select id from payments
      where due_at is not null and due_at <= @now and machine_version <= @machineVersion and ${LEASE_AVAILABLE}
      order by due_at limit @limit`,
    query,
  );
  return rows.map((r) => r.id);
}

/**
 * Payments mid-step whose lease ran out in another process: it died, or stalled past its
 * lease. Any other process may take them over (rule 8), oldest expiry first. Its own are
 * not listed: live here they are no one's to take, and a restart takes them back itself.
 */
export async function findAbandoned(q: Sql, query: { now: number; owner: string; machineVersion: number; limit: number }): Promise<string[]> {
  const rows = await q.all<{ id: string }>(
    `select id from payments
      where active = 1 and lease_expires_at < @now and lease_owner <> @owner and machine_version <= @machineVersion
      order by lease_expires_at limit @limit`,
    query,
  );
  return rows.map((r) => r.id);
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
export function findNeedingRescue(q: Sql, query: RescueQuery): Promise<Array<Pick<PaymentRow, 'id' | 'dueAt' | 'updatedAt'>>> {
  return q.all(
    `select id, due_at as "dueAt", updated_at as "updatedAt" from payments
      where machine_version <= @machineVersion and ${LEASE_AVAILABLE} and (active = 1 or due_at <= @now)
      order by updated_at limit @limit`,
    { ...query },
  );
}

/**
 * Payments leased to `owner` that are mid-step or whose wait is over: what a process of
 * that owner id was driving when it died, its own to take back (see findNeedingRescue).
 */
export async function findLeasedTo(q: Sql, query: RescueQuery): Promise<string[]> {
  const rows = await q.all<{ id: string }>(
    `select id from payments
      where lease_owner = @owner and machine_version <= @machineVersion and (active = 1 or due_at <= @now)
      order by updated_at limit @limit`,
    { ...query },
  );
  return rows.map((row) => row.id);
}
