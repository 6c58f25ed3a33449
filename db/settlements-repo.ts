import { and, asc, desc, eq, gt, lt, or, type SQL } from 'drizzle-orm';
import type { SettlementStatus } from '../machines/settlement.machine.ts';
import { timeOrderedId } from '../src/ids.ts';
import type { Discrepancy } from '../src/settlement/discrepancies.ts';
import type { DayMovement, PartnerFigures } from '../src/settlement/figures.ts';
import type { Db } from './connection.ts';
import { prepared, selectList } from './prepared.ts';
import { settlementLines, settlements } from './schema.ts';

export type SettlementRow = typeof settlements.$inferSelect;
export type SettlementLineRow = typeof settlementLines.$inferSelect;

/** The money that moved in [start, end), with each payment's partner: what a day's settlement adds up. */
export function movementsBetween(db: Db, start: number, end: number): DayMovement[] {
  return prepared(db, 'movementsBetween', () =>
    db.$client.prepare(`select m.payment_id as paymentId, p.partner_id as partnerId, p.currency as currency,
        m.kind as kind, m.amount as amount, m.at as at
      from money_movements m join payments p on p.id = m.payment_id
      where m.at >= ? and m.at < ? order by m.at, m.id`),
  ).all(start, end) as DayMovement[];
}

/** Partners whose payment ids these are (a payment the PG listed may be ours). */
export function partnersOfPayments(db: Db, paymentIds: readonly string[]): Map<string, string> {
  const find = prepared(db, 'partnerOfPayment', () => db.$client.prepare('select partner_id from payments where id = ?').pluck());
  const partners = new Map<string, string>();
  for (const id of paymentIds) {
    const partnerId = find.get(id) as string | undefined;
    if (partnerId !== undefined) partners.set(id, partnerId);
  }
  return partners;
}

/** The settlement of a partner and date, created empty (status `status`) when there is none yet. */
export function ensureSettlement(db: Db, date: string, partnerId: string, currency: string, status: SettlementStatus, now: number): string {
  db.insert(settlements)
    .values({ id: timeOrderedId('stl_', now), partnerId, date, status, currency, createdAt: now })
    .onConflictDoNothing()
    .run();
  return db
    .select({ id: settlements.id })
    .from(settlements)
    .where(and(eq(settlements.partnerId, partnerId), eq(settlements.date, date)))
    .get()!.id;
}

/**
 * Writes a date's figures over the previous run's, in the caller's transaction: each
 * partner's settlement keeps its id, its lines are replaced, and a settlement of the date
 * that no longer has anything is emptied. Never two settlements for one partner and date.
 */
export function replaceFigures(db: Db, date: string, figures: readonly PartnerFigures[], now: number): number {
  const insertLine = prepared(db, 'insertSettlementLine', () =>
    db.$client.prepare(`insert into settlement_lines (settlement_id, payment_id, kind, amount, fee, at)
      values (@settlementId, @paymentId, @kind, @amount, @fee, @at)`),
  );
  const deleteLines = prepared(db, 'deleteSettlementLines', () => db.$client.prepare('delete from settlement_lines where settlement_id = ?'));
  const written = new Set<string>();
  let lines = 0;
  for (const { lines: partnerLines, ...totals } of figures) {
    const id = ensureSettlement(db, date, totals.partnerId, totals.currency, 'processing', now);
    db.update(settlements).set(totals).where(eq(settlements.id, id)).run();
    deleteLines.run(id);
    for (const line of partnerLines) insertLine.run({ settlementId: id, ...line });
    lines += partnerLines.length;
    written.add(id);
  }
  for (const stale of settlementsOfDate(db, date).filter((s) => !written.has(s.id))) {
    db.update(settlements).set(EMPTY_FIGURES).where(eq(settlements.id, stale.id)).run();
    deleteLines.run(stale.id);
  }
  return lines;
}

const EMPTY_FIGURES = { paymentCount: 0, grossAmount: 0, refundCount: 0, refundAmount: 0, feeAmount: 0, netAmount: 0 };

/** The payments a date's settlements counted, and whose settlement counted each. */
export function countedPayments(db: Db, date: string): Array<{ settlementId: string; paymentId: string; amount: number }> {
  return db.$client
    .prepare(`select l.settlement_id as settlementId, l.payment_id as paymentId, l.amount as amount
      from settlement_lines l join settlements s on s.id = l.settlement_id
      where s.date = ? and l.kind = 'payment'`)
    .all(date) as Array<{ settlementId: string; paymentId: string; amount: number }>;
}

export function setDiscrepancies(db: Db, settlementId: string, discrepancies: readonly Discrepancy[]): void {
  db.update(settlements).set({ discrepancies: JSON.stringify(discrepancies) }).where(eq(settlements.id, settlementId)).run();
}

/** Every settlement of a date takes the run's status; `completedAt` is the time of the last completion. */
export function setStatusOfDate(db: Db, date: string, status: SettlementStatus, now: number): void {
  db.update(settlements)
    .set({ status, completedAt: status === 'completed' ? now : null })
    .where(eq(settlements.date, date))
    .run();
}

export function settlementsOfDate(db: Db, date: string): SettlementRow[] {
  return listSettlements(db, { date });
}

export interface SettlementFilter {
  date?: string | undefined;
  partnerId?: string | undefined;
  status?: SettlementStatus | undefined;
  /** After this settlement in the list's order (the previous page's last). */
  after?: { date: string; partnerId: string } | undefined;
  limit?: number | undefined;
}

/** Newest date first, then by partner. */
export function listSettlements(db: Db, filter: SettlementFilter): SettlementRow[] {
  const conditions: SQL[] = [];
  if (filter.date !== undefined) conditions.push(eq(settlements.date, filter.date));
  if (filter.partnerId !== undefined) conditions.push(eq(settlements.partnerId, filter.partnerId));
  if (filter.status !== undefined) conditions.push(eq(settlements.status, filter.status));
  if (filter.after !== undefined) {
    const { date, partnerId } = filter.after;
    conditions.push(or(lt(settlements.date, date), and(eq(settlements.date, date), gt(settlements.partnerId, partnerId)))!);
  }
  const query = db
    .select()
    .from(settlements)
    .where(and(...conditions))
    .orderBy(desc(settlements.date), asc(settlements.partnerId));
  return filter.limit === undefined ? query.all() : query.limit(filter.limit).all();
}

export function findSettlement(db: Db, id: string): SettlementRow | undefined {
  return db.select().from(settlements).where(eq(settlements.id, id)).get();
}

/** In the order the money moved. */
export function listSettlementLines(db: Db, settlementId: string): SettlementLineRow[] {
  return db.$client
    .prepare(`select ${selectList(settlementLines)} from settlement_lines where settlement_id = ? order by at, id`)
    .all(settlementId) as SettlementLineRow[];
}
