import type { Dialect, Sql } from '../../db/sql.ts';
import type { PublicStatus } from '../../machines/payment-status.ts';
import type { LedgerEntry } from '../../src/mock-pg/mock-pg.ts';
import { expectedEventTypes } from './event-history.ts';
import { auditHistory, type AuditedPayment, type LoggedTransition } from './lease-audit.ts';

export type ViolationKind =
  | 'stock_not_conserved'
  | 'reservation_mismatch'
  | 'fulfilment_mismatch'
  | 'state_disagrees_with_pg'
  | 'amount_mismatch'
  | 'cancelled_amount_mismatch'
  | 'unknown_pg_payment'
  | 'charged_twice'
  | 'money_not_returned'
  | 'in_flight'
  | 'events_disagree_with_history'
  | 'attention_without_dead_letter'
  | 'attention_without_alert'
  | 'money_disagrees_with_pg'
  | 'transition_seq_gap'
  | 'transition_chain_broken'
  | 'state_disagrees_with_history';

export interface Violation {
  kind: ViolationKind;
  paymentId?: string;
  productId?: string;
  message: string;
}

export interface InvariantReport {
  violations: Violation[];
  payments: number;
  products: number;
  pgPayments: number;
  byStatus: Record<string, number>;
}

type PgStatus = LedgerEntry['status'] | 'absent';

interface ProductRow {
  id: string;
  stock: number;
  totalStock: number;
}

interface PaymentRow extends AuditedPayment {
  status: PublicStatus;
  failureCode: string | null;
  amount: number;
  cancelledAmount: number;
  /** JSON: [{ productId, quantity, unitPrice }] */
  items: string;
}

/** A payment's money movements, added up: what daily settlement counts for it. */
interface MovementTotals {
  charged: number;
  /** refunds and voids */
  returned: number;
  chargeRows: number;
}

interface ReservationRow {
  paymentId: string;
  productId: string;
  quantity: number;
}

/** Units per product. */
type Quantities = Map<string, number>;

// processing and requires_attention may hold any reservations: they are mid-way or wait for an operator.
const HOLDS_ITS_ITEMS = new Set<PublicStatus>(['completed', 'partially_cancelled', 'cancel_requested']);
const HOLDS_NOTHING = new Set<PublicStatus>(['failed', 'rejected', 'cancelled']);
const FULFILLED = new Set<PublicStatus>(['completed', 'partially_cancelled']);
const NOT_FULFILLED = new Set<PublicStatus>(['failed', 'rejected']);
const CANCELLED_AMOUNT_SETTLED = new Set<PublicStatus>(['completed', 'partially_cancelled', 'cancelled']);
const IN_FLIGHT = new Set<PublicStatus>(['processing', 'cancel_requested']);
const MONEY_TAKEN = new Set<PgStatus>(['PAID', 'PARTIAL_CANCELLED', 'CANCELLED']);

/**
 * What the PG may say about a payment in each status. `failed` means never charged, so even a
 * refunded (CANCELLED) charge is wrong. processing is reported as in_flight, requires_attention
 * is for an operator: neither is compared.
 */
const PG_STATUSES_ALLOWED: Partial<Record<PublicStatus, ReadonlySet<PgStatus>>> = {
  completed: new Set(['PAID', 'PARTIAL_CANCELLED']),
  partially_cancelled: new Set(['PAID', 'PARTIAL_CANCELLED']),
  cancel_requested: new Set(['PAID', 'PARTIAL_CANCELLED', 'CANCELLED']),
  cancelled: new Set(['CANCELLED']),
  failed: new Set(['absent', 'READY', 'FAILED']),
  rejected: new Set(['absent']),
};

/**
 * Checks that the service's database and the PG's ledger agree (stock conserved, money and
 * states matching), and audits each payment's history (one runner at a time). Meant for a
 * quiesced system, read through `q` (either dialect); one query per table, so 100k payments
 * are cheap.
 */
export async function checkInvariants(q: Sql, ledger: LedgerEntry[]): Promise<InvariantReport> {
  const db = await readDatabase(q);
  const ledgerById = new Map(ledger.map((entry) => [entry.paymentId, entry]));
  const reservedByPayment = groupReservations(db.reserved);
  const violations: Violation[] = [];
  const report = (violation: Violation) => violations.push(violation);

  checkStock(db.products, db.reserved, report);
  const byStatus: Record<string, number> = {};
  for (const payment of db.payments) {
    byStatus[payment.status] = (byStatus[payment.status] ?? 0) + 1;
    const history = db.transitions.get(payment.id) ?? [];
    checkReservations(payment, reservedByPayment.get(payment.id), report);
    checkFulfilment(payment, db.fulfilled.has(payment.id), report);
    checkAgainstPg(payment, ledgerById.get(payment.id), report);
    checkResting(payment, db, report);
    checkEvents(payment, history, db.events.get(payment.id) ?? [], report);
    checkMoney(payment, db.movements.get(payment.id) ?? NO_MOVEMENTS, ledgerById.get(payment.id), report);
    auditHistory(payment, history, report);
  }
  const paymentIds = new Set(db.payments.map((payment) => payment.id));
  checkOrphans(db, reservedByPayment, paymentIds, report);
  checkLedger(ledger, paymentIds, report);

  return { violations, payments: db.payments.length, products: db.products.length, pgPayments: ledger.length, byStatus };
}

type Report = (violation: Violation) => void;
type DatabaseRows = Awaited<ReturnType<typeof readDatabase>>;

interface PaymentEvent {
  sequence: number;
  type: string;
}

/**
 * The state value inside the stored snapshot, as JSON text: taken out by the database,
 * since the snapshots themselves are large and only their state is compared.
 */
const SNAPSHOT_VALUE: Record<Dialect, string> = {
  sqlite: `snapshot -> '$.value'`,
  postgres: `(snapshot::json -> 'value')::text`,
};

/** One statement at a time: a single connection (the command's) takes no concurrent queries. */
async function readDatabase(q: Sql) {
  const ids = async (text: string) => new Set((await q.all<{ paymentId: string }>(text)).map((row) => row.paymentId));
  return {
    products: await readNumbers<ProductRow>(q, 'select id, stock, total_stock as "totalStock" from products', ['stock', 'totalStock']),
    payments: await readNumbers<PaymentRow>(
      q,
      `select id, status, state, ${SNAPSHOT_VALUE[q.dialect]} as "snapshotValue", failure_code as "failureCode", amount,
         cancelled_amount as "cancelledAmount", items from payments`,
      ['amount', 'cancelledAmount'],
    ),
    reserved: await readNumbers<ReservationRow>(
      q,
      `select payment_id as "paymentId", product_id as "productId", quantity from stock_reservations where status = 'reserved'`,
      ['quantity'],
    ),
    fulfilled: await ids('select payment_id as "paymentId" from fulfilments'),
    // Only a failed step's dead letter is about the payment's attention; a dead event delivery is not.
    openDeadLetters: await ids(`select payment_id as "paymentId" from failed_events where kind = 'payment_step' and status = 'open'`),
    // recordAttention writes the only urgent alert that names a payment: the machine's own alerts
    // (no answer from the PG, a late charge), dead deliveries and settlement discrepancies are
    // warnings, and the urgent PG-credentials and settlement-run alerts name no payment.
    attentionAlerted: await ids(`select payment_id as "paymentId" from alerts where payment_id is not null and severity = 'urgent'`),
    movements: await readMovementTotals(q),
    transitions: groupByPayment(
      await readNumbers<LoggedTransition & { paymentId: string }>(
        q,
        `select payment_id as "paymentId", seq, from_state as "fromState", to_state as "toState"
           from payment_transitions order by payment_id, seq`,
        ['seq'],
      ),
    ),
    events: groupByPayment(
      await readNumbers<PaymentEvent & { paymentId: string }>(
        q,
        'select payment_id as "paymentId", sequence, type from payment_events order by payment_id, sequence',
        ['sequence'],
      ),
    ),
  };
}

/**
 * Rows whose `numeric` columns are numbers. pg hands bigint columns and sums over as
 * strings unless its pool was told to parse them (the service's is, in db/postgres.ts; the
 * command's plain connection is not).
 */
async function readNumbers<T>(q: Sql, text: string, numeric: Array<keyof T>): Promise<T[]> {
  const rows = await q.all<T>(text);
  for (const row of rows) for (const column of numeric) row[column] = Number(row[column]) as T[keyof T];
  return rows;
}

async function readMovementTotals(q: Sql): Promise<Map<string, MovementTotals>> {
  const rows = await readNumbers<MovementTotals & { paymentId: string }>(
    q,
    `select payment_id as "paymentId",
       sum(case when kind = 'charge' then amount else 0 end) as charged,
       sum(case when kind in ('refund', 'void') then amount else 0 end) as returned,
       sum(case when kind = 'charge' then 1 else 0 end) as "chargeRows"
     from money_movements group by payment_id`,
    ['charged', 'returned', 'chargeRows'],
  );
  return new Map(rows.map(({ paymentId, ...totals }) => [paymentId, totals]));
}

/** Rows in the order read, grouped by their payment (without its id). */
function groupByPayment<T extends { paymentId: string }>(rows: T[]): Map<string, Array<Omit<T, 'paymentId'>>> {
  const byPayment = new Map<string, Array<Omit<T, 'paymentId'>>>();
  for (const { paymentId, ...row } of rows) {
    const list = byPayment.get(paymentId) ?? [];
    list.push(row);
    byPayment.set(paymentId, list);
  }
  return byPayment;
}

/**
 * A payment's events (the outbox) tell its status history: payment.created, then one event
 * per change of public status in the transition log, numbered 1, 2, 3… without a gap. The
 * checker is for databases made by the current code, so a payment without events is
 * flagged; only a log naming states this machine does not have is not compared.
 */
function checkEvents(payment: PaymentRow, history: LoggedTransition[], events: PaymentEvent[], report: Report): void {
  const expected = expectedEventTypes(history.map((transition) => transition.toState));
  if (!expected) return;
  const types = events.map((event) => event.type);
  const sequences = events.map((event) => event.sequence);
  const gapless = sequences.every((sequence, index) => sequence === index + 1);
  if (!gapless || types.join() !== expected.join()) {
    const has = events.length ? `events ${types.join(', ')} (sequences ${sequences.join(', ')})` : 'no events';
    report({
      kind: 'events_disagree_with_history',
      paymentId: payment.id,
      message: `payment ${payment.id} has ${has} but its history says ${expected.join(', ')}`,
    });
  }
}

function groupReservations(reserved: ReservationRow[]): Map<string, Quantities> {
  const byPayment = new Map<string, Quantities>();
  for (const { paymentId, productId, quantity } of reserved) {
    const held = byPayment.get(paymentId) ?? new Map<string, number>();
    held.set(productId, quantity);
    byPayment.set(paymentId, held);
  }
  return byPayment;
}

function checkStock(products: ProductRow[], reserved: ReservationRow[], report: Report): void {
  const heldByProduct: Quantities = new Map();
  for (const { productId, quantity } of reserved) heldByProduct.set(productId, (heldByProduct.get(productId) ?? 0) + quantity);

  for (const { id, stock, totalStock } of products) {
    const held = heldByProduct.get(id) ?? 0;
    heldByProduct.delete(id);
    if (stock < 0) report({ kind: 'stock_not_conserved', productId: id, message: `product ${id} has negative stock ${stock}` });
    if (totalStock !== stock + held) {
      report({
        kind: 'stock_not_conserved',
        productId: id,
        message: `product ${id}: total_stock ${totalStock} ≠ stock ${stock} + reserved ${held}`,
      });
    }
  }
  for (const [productId, held] of heldByProduct) {
    report({ kind: 'stock_not_conserved', productId, message: `${held} units reserved for unknown product ${productId}` });
  }
}

function checkReservations(payment: PaymentRow, held: Quantities | undefined, report: Report): void {
  const { id, status } = payment;
  if (HOLDS_NOTHING.has(status) && held) {
    report({ kind: 'reservation_mismatch', paymentId: id, message: `payment ${id} is ${status} but still holds ${listQuantities(held)}` });
  }
  if (!HOLDS_ITS_ITEMS.has(status)) return;
  const items = itemQuantities(payment.items);
  if (!items) {
    report({ kind: 'reservation_mismatch', paymentId: id, message: `payment ${id} has unreadable items ${payment.items}` });
  } else if (!sameQuantities(items, held ?? new Map())) {
    report({
      kind: 'reservation_mismatch',
      paymentId: id,
      message: `payment ${id} is ${status} with items ${listQuantities(items)} but holds ${listQuantities(held)}`,
    });
  }
}

function checkFulfilment(payment: PaymentRow, fulfilled: boolean, report: Report): void {
  const { id, status } = payment;
  if (FULFILLED.has(status) && !fulfilled) {
    report({ kind: 'fulfilment_mismatch', paymentId: id, message: `payment ${id} is ${status} but was never fulfilled` });
  }
  if (NOT_FULFILLED.has(status) && fulfilled) {
    report({ kind: 'fulfilment_mismatch', paymentId: id, message: `payment ${id} is ${status} but was fulfilled` });
  }
}

/** Resting statuses that keep no money: the PG must hold none for them. */
const KEEPS_NO_MONEY = new Set<PublicStatus>(['failed', 'rejected', 'cancelled']);
/** An operator settled it by hand (the money went back outside the PG): the PG's books are not ours to compare. */
const SETTLED_BY_HAND = 'resolved_by_operator';

function checkAgainstPg(payment: PaymentRow, entry: LedgerEntry | undefined, report: Report): void {
  const { id, status } = payment;
  if (payment.failureCode === SETTLED_BY_HAND) return;
  const held = entry ? entry.paidAmount - entry.cancelledAmount : 0;
  if (KEEPS_NO_MONEY.has(status) && held > 0) {
    report({
      kind: 'money_not_returned',
      paymentId: id,
      message: `payment ${id} is ${status} but the PG holds ${held} of the customer's money (${entry!.status})`,
    });
  }
  const pgStatus: PgStatus = entry?.status ?? 'absent';
  const allowed = PG_STATUSES_ALLOWED[status];
  if (allowed && !allowed.has(pgStatus)) {
    const pgSays = entry ? `the PG has it ${pgStatus}` : 'the PG has no record of it';
    report({ kind: 'state_disagrees_with_pg', paymentId: id, message: `payment ${id} is ${status} but ${pgSays}` });
  }
  if (!entry) return;
  if (MONEY_TAKEN.has(entry.status) && entry.paidAmount !== payment.amount) {
    report({
      kind: 'amount_mismatch',
      paymentId: id,
      message: `payment ${id} amount ${payment.amount} but the PG took ${entry.paidAmount} (${entry.status})`,
    });
  }
  if (CANCELLED_AMOUNT_SETTLED.has(status) && entry.cancelledAmount !== payment.cancelledAmount) {
    report({
      kind: 'cancelled_amount_mismatch',
      paymentId: id,
      message: `payment ${id} (${status}) cancelled_amount ${payment.cancelledAmount} but the PG cancelled ${entry.cancelledAmount}`,
    });
  }
}

/** A quiesced system has nothing in flight, and every payment needing an operator is visible to one. */
function checkResting(payment: PaymentRow, db: DatabaseRows, report: Report): void {
  const { id, status } = payment;
  if (IN_FLIGHT.has(status)) report({ kind: 'in_flight', paymentId: id, message: `payment ${id} is still ${status}` });
  if (status !== 'requires_attention') return;
  if (!db.openDeadLetters.has(id)) {
    report({ kind: 'attention_without_dead_letter', paymentId: id, message: `payment ${id} needs attention but has no open failed event` });
  }
  if (!db.attentionAlerted.has(id)) {
    report({ kind: 'attention_without_alert', paymentId: id, message: `payment ${id} needs attention but no alert was raised` });
  }
}

/** Its money may still move, or waits for an operator: its movements are not final yet. */
const MONEY_UNSETTLED = new Set<PublicStatus>(['processing', 'cancel_requested', 'requires_attention']);
const NO_MOVEMENTS: MovementTotals = { charged: 0, returned: 0, chargeRows: 0 };

/**
 * The money movements (what settlement adds up) of a payment at rest must be what the PG's
 * ledger shows: the charge it took, and the refunds and voids it gave back. A payment takes
 * money once, so whatever its status it has at most one charge movement.
 */
function checkMoney(payment: PaymentRow, moved: MovementTotals, entry: LedgerEntry | undefined, report: Report): void {
  const { id, status } = payment;
  const disagreements: string[] = [];
  if (moved.chargeRows > 1) disagreements.push(`${moved.chargeRows} charge movements`);
  if (!MONEY_UNSETTLED.has(status) && payment.failureCode !== SETTLED_BY_HAND) {
    const pgCharged = entry && MONEY_TAKEN.has(entry.status) ? entry.paidAmount : 0;
    const pgReturned = entry?.cancelledAmount ?? 0;
    if (moved.charged !== pgCharged) disagreements.push(`charges add up to ${moved.charged} but the PG took ${pgCharged}`);
    if (moved.returned !== pgReturned) disagreements.push(`refunds and voids add up to ${moved.returned} but the PG gave back ${pgReturned}`);
  }
  if (disagreements.length) {
    const pgSays = entry ? entry.status : 'absent at the PG';
    report({ kind: 'money_disagrees_with_pg', paymentId: id, message: `payment ${id} (${status}, ${pgSays}): ${disagreements.join('; ')}` });
  }
}

/** Rows that point at a payment the service does not know. */
function checkOrphans(db: DatabaseRows, reservedByPayment: Map<string, Quantities>, paymentIds: Set<string>, report: Report): void {
  for (const [paymentId, held] of reservedByPayment) {
    if (!paymentIds.has(paymentId)) {
      report({ kind: 'reservation_mismatch', paymentId, message: `unknown payment ${paymentId} holds ${listQuantities(held)}` });
    }
  }
  for (const paymentId of db.fulfilled) {
    if (!paymentIds.has(paymentId)) {
      report({ kind: 'fulfilment_mismatch', paymentId, message: `unknown payment ${paymentId} was fulfilled` });
    }
  }
}

function checkLedger(ledger: LedgerEntry[], paymentIds: Set<string>, report: Report): void {
  for (const { paymentId, status, paidAmount, charges } of ledger) {
    if (!paymentIds.has(paymentId)) {
      report({
        kind: 'unknown_pg_payment',
        paymentId,
        message: `the PG has payment ${paymentId} (${status}, paid ${paidAmount}) that the service does not`,
      });
    }
    if (charges > 1) {
      report({ kind: 'charged_twice', paymentId, message: `the PG took money ${charges} times for payment ${paymentId}` });
    }
  }
}

/** Units per product in a payment's items; undefined when the column is not the expected JSON. */
function itemQuantities(items: string): Quantities | undefined {
  try {
    const quantities: Quantities = new Map();
    for (const { productId, quantity } of JSON.parse(items) as Array<{ productId: string; quantity: number }>) {
      quantities.set(productId, (quantities.get(productId) ?? 0) + quantity);
    }
    return quantities;
  } catch {
    return undefined;
  }
}

function sameQuantities(a: Quantities, b: Quantities): boolean {
  return a.size === b.size && [...a].every(([productId, quantity]) => b.get(productId) === quantity);
}

function listQuantities(quantities: Quantities | undefined): string {
  if (!quantities?.size) return 'no reserved stock';
  return [...quantities].map(([productId, quantity]) => `${productId}×${quantity}`).join(', ');
}
