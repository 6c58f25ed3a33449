import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Database } from '../../../db/connection.ts';
import { listPayments, type ListFilter } from '../../../db/payments-repo.ts';
import type { Sql } from '../../../db/sql.ts';
import { csvRecord } from '../../csv.ts';
import { toPaymentResource } from '../../payments/payment-view.ts';
import { exactRouter } from '../router.ts';
import { listQuery } from '../schemas.ts';
import { validate } from '../validate.ts';

/** Rows read per query: the file streams, so an export of every payment holds one page in memory. */
const PAGE = 500;

export const exportQuery = listQuery.omit({ limit: true, cursor: true });

const HEADER = [
  'id',
  'status',
  'state',
  'amount',
  'cancelled_amount',
  'currency',
  'customer_id',
  'partner_id',
  'order_name',
  'failure_code',
  'created_at',
  'updated_at',
];

async function* exportRecords(q: Sql, filter: Omit<ListFilter, 'limit' | 'before'>): AsyncGenerator<string> {
  yield csvRecord(HEADER);
  let before: ListFilter['before'];
  for (;;) {
    const rows = await listPayments(q, { ...filter, limit: PAGE, before });
    for (const row of rows) {
      const p = toPaymentResource(row);
      yield csvRecord([p.id, p.status, p.state ?? null, p.amount, p.cancelledAmount, p.currency, p.customerId, p.partnerId, p.orderName, p.failureCode, p.createdAt, p.updatedAt]);
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || !last) return;
    before = { createdAt: last.createdAt, id: last.id };
  }
}

/** `GET /v1/admin/payments/export`: the payments the list's filters choose, newest first, as CSV. */
export function paymentExportRoutes(db: Database, admin: Middleware): Router {
  const router = exactRouter();
  router.get('/v1/admin/payments/export', admin, (ctx) => {
    const filter = validate(exportQuery, ctx.query);
    ctx.type = 'text/csv; charset=utf-8; header=present';
    ctx.set('Content-Disposition', 'attachment; filename="payments.csv"');
    ctx.body = Readable.from(exportRecords(db.read, filter));
  });
  return router;
}
