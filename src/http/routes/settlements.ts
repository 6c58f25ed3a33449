import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { Database } from '../../../db/connection.ts';
import { findPartner, insertPartner, updatePartner, type Partner } from '../../../db/partners-repo.ts';
import {
  findSettlement,
  listSettlementLines,
  listSettlements,
  settlementsOfDate,
  type SettlementLineRow,
  type SettlementRow,
} from '../../../db/settlements-repo.ts';
import type { Sql } from '../../../db/sql.ts';
import { SETTLEMENT_STATUSES } from '../../../machines/settlement.machine.ts';
import { AppError, notFound } from '../../errors.ts';
import { dateAt, isCalendarDate } from '../../settlement/business-day.ts';
import { toCsv } from '../../csv.ts';
import type { SettlementRunner } from '../../settlement/settlement-runner.ts';
import { exactRouter } from '../router.ts';
import { queryInteger } from '../schemas.ts';
import { validate } from '../validate.ts';

export interface SettlementRoutesDeps {
  db: Database;
  runner: SettlementRunner;
  timeZone: string;
  /** How long `POST …/settlements/run` waits for the run to finish before it answers. */
  runWaitMs: number;
  clock: () => number;
  admin: Middleware;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const partnerId = z.string().min(1).max(255);
const partnerName = z.string().trim().min(1).max(200);
const feeRateBps = z.number().int().min(0).max(10_000);
// Strict: a field this API does not take (`{"id":…}` in a change) is an error, not ignored.
export const partnerBody = z.strictObject({ id: partnerId, name: partnerName, feeRateBps });
export const partnerChanges = z
  .strictObject({ name: partnerName.optional(), feeRateBps: feeRateBps.optional() })
  .refine((changes) => changes.name !== undefined || changes.feeRateBps !== undefined, 'name or feeRateBps is required');
export const partnerPath = z.object({ id: partnerId });

/** No payment here is older than this: an earlier date is a typo, not a day to settle. */
const FIRST_DATE = '2000-01-01';
const date = z
  .string()
  .refine(isCalendarDate, 'a calendar date, YYYY-MM-DD')
  .refine((text) => text >= FIRST_DATE, `a date from ${FIRST_DATE} on`);
export const runBody = z.strictObject({ date });
export const settlementPath = z.object({ id: z.string().regex(/^stl_[0-9a-z]{9}[0-9a-f]{16}$/, 'not a settlement id') });
const pageCursor = z
  .string()
  .max(400)
  .transform((text, ctx) => {
    const parsed = z
      .object({ date, partnerId })
      .safeParse(parseJson(Buffer.from(text, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: 'a nextCursor of this list' });
    return z.NEVER;
  });
export const listQuery = z.object({
  date: date.optional(),
  partnerId: partnerId.optional(),
  status: z.enum(SETTLEMENT_STATUSES).optional(),
  limit: queryInteger(1, 1_000, 100),
  cursor: pageCursor.optional(),
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const toPartnerResource = (p: Partner) => ({
  id: p.id,
  name: p.name,
  feeRateBps: p.feeRateBps,
  createdAt: iso(p.createdAt),
  updatedAt: iso(p.updatedAt),
});

const toSettlementResource = (s: SettlementRow) => ({
  id: s.id,
  partnerId: s.partnerId,
  date: s.date,
  status: s.status,
  currency: s.currency,
  paymentCount: s.paymentCount,
  grossAmount: s.grossAmount,
  refundCount: s.refundCount,
  refundAmount: s.refundAmount,
  feeAmount: s.feeAmount,
  netAmount: s.netAmount,
  discrepancies: JSON.parse(s.discrepancies) as unknown[],
  createdAt: iso(s.createdAt),
  completedAt: iso(s.completedAt),
});

const toLineResource = (line: SettlementLineRow) => ({
  paymentId: line.paymentId,
  kind: line.kind,
  amount: line.amount,
  fee: line.fee,
  at: iso(line.at),
});

/** Partners and their daily settlements (admin). */
export function settlementRoutes({ db, runner, timeZone, runWaitMs, clock, admin }: SettlementRoutesDeps): Router {
  const router = exactRouter({ prefix: '/v1/admin' });

  router.post('/partners', admin, async (ctx) => {
    const body = validate(partnerBody, ctx.request.body);
    const now = clock();
    if (!(await db.commit.run((tx) => insertPartner(tx, { ...body, createdAt: now, updatedAt: now })))) {
      throw new AppError(409, 'conflict', `A partner with id ${body.id} exists`);
    }
    ctx.status = 201;
    ctx.set('Location', `/v1/admin/partners/${encodeURIComponent(body.id)}`);
    ctx.body = toPartnerResource((await findPartner(db.read, body.id))!);
  });

  router.get('/partners/:id', admin, async (ctx) => {
    const { id } = validate(partnerPath, ctx.params);
    const partner = await findPartner(db.read, id);
    if (!partner) throw notFound(`Partner ${id}`);
    ctx.body = toPartnerResource(partner);
  });

  router.patch('/partners/:id', admin, async (ctx) => {
    const { id } = validate(partnerPath, ctx.params);
    const changes = validate(partnerChanges, ctx.request.body);
    const now = clock();
    const partner = await db.commit.run((tx) => updatePartner(tx, id, changes, now));
    if (!partner) throw notFound(`Partner ${id}`);
    ctx.body = toPartnerResource(partner);
  });

  router.post('/settlements/run', admin, async (ctx) => {
    const body = validate(runBody, ctx.request.body);
    const today = dateAt(clock(), timeZone);
    if (body.date > today) {
      throw new AppError(422, 'date_in_future', `${body.date} has not begun in ${timeZone} (today is ${today})`);
    }
    await runner.request(body.date);
    await runner.settled(body.date, runWaitMs);
    ctx.status = 202;
    ctx.body = { data: (await settlementsOfDate(db.read, body.date)).map(toSettlementResource) };
  });

  router.get('/settlements', admin, async (ctx) => {
    const query = validate(listQuery, ctx.query);
    const rows = await listSettlements(db.read, { ...query, after: query.cursor, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > query.limit && last
        ? Buffer.from(JSON.stringify({ date: last.date, partnerId: last.partnerId })).toString('base64url')
        : null;
    ctx.body = { data: page.map(toSettlementResource), nextCursor };
  });

  router.get('/settlements/:id', admin, async (ctx) => {
    const settlement = await settlementOr404(db.read, validate(settlementPath, ctx.params).id);
    ctx.body = { ...toSettlementResource(settlement), lines: (await listSettlementLines(db.read, settlement.id)).map(toLineResource) };
  });

  router.get('/settlements/:id/lines.csv', admin, async (ctx) => {
    const settlement = await settlementOr404(db.read, validate(settlementPath, ctx.params).id);
    const rows = (await listSettlementLines(db.read, settlement.id)).map((line) => {
      const resource = toLineResource(line);
      return [resource.paymentId, resource.kind, resource.amount, resource.fee, resource.at];
    });
    ctx.type = 'text/csv; charset=utf-8; header=present';
    ctx.set('Content-Disposition', `attachment; filename="${settlement.id}.csv"`);
    ctx.body = toCsv(['payment_id', 'kind', 'amount', 'fee', 'at'], rows);
  });

  return router;
}

async function settlementOr404(q: Sql, id: string): Promise<SettlementRow> {
  const settlement = await findSettlement(q, id);
  if (!settlement) throw notFound(`Settlement ${id}`);
  return settlement;
}
