import type { SettlementStatus } from '../machines/settlement.machine.ts';
import { timeOrderedId } from '../src/ids.ts';
import type { Discrepancy } from '../src/settlement/discrepancies.ts';
import type { DayMovement, PartnerFigures } from '../src/settlement/figures.ts';
import { settlementLines, settlements } from './schema.ts';
import { selectList } from './select-list.ts';
import { jsonList, type Sql } from './sql.ts';

export type SettlementRow = typeof settlements.$inferSelect;
export type SettlementLineRow = typeof settlementLines.$inferSelect;

const MOVEMENTS_BETWEEN = `select m.payment_id as "paymentId", p.partner_id as "partnerId", p.currency as currency,
    m.kind as kind, m.amount as amount, m.at as at
  from money_movements m join payments p on p.id = m.payment_id
  where m.at >= @start and m.at < @end order by m.at, m.id`;

/** The money that moved in [start, end), with each payment's partner: what a day's settlement adds up. */
export function movementsBetween(q: Sql, start: number, end: number): Promise<DayMovement[]> {
  return q.all<DayMovement>(MOVEMENTS_BETWEEN, { start, end });
}

/** Partners whose payment ids these are (a payment the PG listed may be ours). */
export async function partnersOfPayments(q: Sql, paymentIds: readonly string[]): Promise<Map<string, string>> {
  const partners = new Map<string, string>();
  if (paymentIds.length === 0) return partners;
  const rows = await q.all<{ id: string; partnerId: string }>(
    `select id, partner_id as "partnerId" from payments where id in ${jsonList(q, 'ids')}`,
    { ids: JSON.stringify(paymentIds) },
  );
  for (const row of rows) partners.set(row.id, row.partnerId);
  return partners;
}

const INSERT_SETTLEMENT = `insert into settlements (id, partner_id, date, status, currency, created_at)
  values (@id, @partnerId, @date, @status, @currency, @now) on conflict do nothing`;
const SETTLEMENT_ID = 'select id from settlements where partner_id = @partnerId and date = @date';

/** The settlement of a partner and date, created empty (status `status`) when there is none yet. */
export async function ensureSettlement(
  q: Sql,
  date: string,
  partnerId: string,
  currency: string,
  status: SettlementStatus,
  now: number,
): Promise<string> {
  await q.run(INSERT_SETTLEMENT, { id: timeOrderedId('stl_', now), partnerId, date, status, currency, now });
  return (await q.get<{ id: string }>(SETTLEMENT_ID, { partnerId, date }))!.id;
}

const SET_FIGURES = `update settlements set partner_id = @partnerId, currency = @currency, payment_count = @paymentCount,
  gross_amount = @grossAmount, refund_count = @refundCount, refund_amount = @refundAmount, fee_amount = @feeAmount,
  net_amount = @netAmount where id = @id`;
const EMPTY_FIGURES = `update settlements set payment_count = 0, gross_amount = 0, refund_count = 0, refund_amount = 0,
  fee_amount = 0, net_amount = 0 where id = @id`;
const DELETE_LINES = 'delete from settlement_lines where settlement_id = @id';
const INSERT_LINE = `insert into settlement_lines (settlement_id, payment_id, kind, amount, fee, at)
  values (@settlementId, @paymentId, @kind, @amount, @fee, @at)`;

/**
 * Writes a date's figures over the previous run's, in the caller's transaction: each
 * partner's settlement keeps its id, its lines are replaced, and a settlement of the date
 * that no longer has anything is emptied. Never two settlements for one partner and date.
 */
export async function replaceFigures(q: Sql, date: string, figures: readonly PartnerFigures[], now: number): Promise<number> {
  const written = new Set<string>();
  let lines = 0;
  for (const { lines: partnerLines, ...totals } of figures) {
    const id = await ensureSettlement(q, date, totals.partnerId, totals.currency, 'processing', now);
    await q.run(SET_FIGURES, {
      id,
      partnerId: totals.partnerId,
      currency: totals.currency,
      paymentCount: totals.paymentCount,
      grossAmount: totals.grossAmount,
      refundCount: totals.refundCount,
      refundAmount: totals.refundAmount,
      feeAmount: totals.feeAmount,
      netAmount: totals.netAmount,
    });
    await q.run(DELETE_LINES, { id });
    for (const line of partnerLines) {
      await q.run(INSERT_LINE, { settlementId: id, paymentId: line.paymentId, kind: line.kind, amount: line.amount, fee: line.fee, at: line.at });
    }
    lines += partnerLines.length;
    written.add(id);
  }
  for (const stale of (await settlementsOfDate(q, date)).filter((s) => !written.has(s.id))) {
    await q.run(EMPTY_FIGURES, { id: stale.id });
    await q.run(DELETE_LINES, { id: stale.id });
  }
  return lines;
}

const COUNTED_PAYMENTS = `select l.settlement_id as "settlementId", l.payment_id as "paymentId", l.amount as amount
  from settlement_lines l join settlements s on s.id = l.settlement_id
  where s.date = @date and l.kind = 'payment'`;

/** The payments a date's settlements counted, and whose settlement counted each. */
export function countedPayments(q: Sql, date: string): Promise<Array<{ settlementId: string; paymentId: string; amount: number }>> {
  return q.all(COUNTED_PAYMENTS, { date });
}

export async function setDiscrepancies(q: Sql, settlementId: string, discrepancies: readonly Discrepancy[]): Promise<void> {
  await q.run('update settlements set discrepancies = @discrepancies where id = @id', {
    id: settlementId,
    discrepancies: JSON.stringify(discrepancies),
  });
}

/** Every settlement of a date takes the run's status; `completedAt` is the time of the last completion. */
export async function setStatusOfDate(q: Sql, date: string, status: SettlementStatus, now: number): Promise<void> {
  await q.run('update settlements set status = @status, completed_at = @completedAt where date = @date', {
    date,
    status,
    completedAt: status === 'completed' ? now : null,
  });
}

export function settlementsOfDate(q: Sql, date: string): Promise<SettlementRow[]> {
  return listSettlements(q, { date });
}

export interface SettlementFilter {
  date?: string | undefined;
  partnerId?: string | undefined;
  status?: SettlementStatus | undefined;
  /** After this settlement in the list's order (the previous page's last). */
  after?: { date: string; partnerId: string } | undefined;
  limit?: number | undefined;
}

const SETTLEMENT_COLUMNS = selectList(settlements);

/** Newest date first, then by partner. */
export function listSettlements(q: Sql, filter: SettlementFilter): Promise<SettlementRow[]> {
  const conditions = ['1 = 1'];
  if (filter.date !== undefined) conditions.push('date = @date');
  if (filter.partnerId !== undefined) conditions.push('partner_id = @partnerId');
  if (filter.status !== undefined) conditions.push('status = @status');
  if (filter.after !== undefined) conditions.push('(date < @afterDate or (date = @afterDate and partner_id > @afterPartnerId))');
  const limit = filter.limit === undefined ? '' : ' limit @limit';
  return q.all<SettlementRow>(
    `select ${SETTLEMENT_COLUMNS} from settlements where ${conditions.join(' and ')} order by date desc, partner_id${limit}`,
    {
      date: filter.date ?? null,
      partnerId: filter.partnerId ?? null,
      status: filter.status ?? null,
      afterDate: filter.after?.date ?? null,
      afterPartnerId: filter.after?.partnerId ?? null,
      limit: filter.limit ?? null,
    },
  );
}

export function findSettlement(q: Sql, id: string): Promise<SettlementRow | undefined> {
  return q.get<SettlementRow>(`select ${SETTLEMENT_COLUMNS} from settlements where id = @id`, { id });
}

const SETTLEMENT_LINES = `select ${selectList(settlementLines)} from settlement_lines where settlement_id = @settlementId order by at, id`;

/** In the order the money moved. */
export function listSettlementLines(q: Sql, settlementId: string): Promise<SettlementLineRow[]> {
  return q.all<SettlementLineRow>(SETTLEMENT_LINES, { settlementId });
}
