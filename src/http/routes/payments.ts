import type Router from '@koa/router';
import { exactRouter } from '../router.ts';
import type { Database } from '../../../db/connection.ts';
import { listCancellations, listRefundAttempts } from '../../../db/cancellations-repo.ts';
import { findPayment, listPayments, listTransitions } from '../../../db/payments-repo.ts';
import { AppError, notFound, validationFailed } from '../../errors.ts';
import type { CancelPayment } from '../../payments/cancel-payment.ts';
import type { CreatePayment } from '../../payments/create-payment.ts';
import type { PaymentHost } from '../../payments/payment-host.ts';
import { toCancellationResource, toPaymentResource, toTransitionResource } from '../../payments/payment-view.ts';
import { cancelBody, IDEMPOTENCY_KEY, listQuery, pathId, paymentBody, waitQuery } from '../schemas.ts';
import { validate } from '../validate.ts';

export interface PaymentRoutesDeps {
  db: Database;
  host: PaymentHost;
  createPayment: CreatePayment;
  cancelPayment: CancelPayment;
}

export function idempotencyKeyOf(header: string): string {
  if (header === '') throw new AppError(400, 'idempotency_key_required', 'The Idempotency-Key header is required');
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw new AppError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1-255 characters of [A-Za-z0-9_.:-]');
  }
  return header;
}

const encodeCursor = (createdAt: number, id: string) => Buffer.from(`${createdAt}:${id}`).toString('base64url');

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (!createdAt || !id || !/^\d+$/.test(createdAt)) throw validationFailed([{ path: 'cursor', message: 'not a cursor from this API' }]);
  return { createdAt: Number(createdAt), id };
}

export function paymentRoutes({ db, host, createPayment, cancelPayment }: PaymentRoutesDeps): Router {
  const router = exactRouter();

  router.post('/v1/payments', async (ctx) => {
    const key = idempotencyKeyOf(ctx.get('idempotency-key'));
    const { wait } = validate(waitQuery, ctx.query);
    const body = validate(paymentBody, ctx.request.body);
    const { row, replayed } = await createPayment(key, body);
    const shown = wait ? await host.waitFor(row.id, (r) => r.status !== 'processing', wait * 1000) : row;
    ctx.status = 202;
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.set('Location', `/v1/payments/${row.id}`);
    ctx.body = toPaymentResource(shown ?? row);
  });

  router.post('/v1/payments/:id/cancel', async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    const key = idempotencyKeyOf(ctx.get('idempotency-key'));
    const { wait } = validate(waitQuery, ctx.query);
    const body = validate(cancelBody, ctx.request.body);
    const { row, replayed } = await cancelPayment(id, key, body);
    const shown = wait ? await host.waitFor(id, (r) => r.status !== 'cancel_requested', wait * 1000) : row;
    ctx.status = 202;
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = toPaymentResource(shown ?? row);
  });

  router.get('/v1/payments', async (ctx) => {
    const query = validate(listQuery, ctx.query);
    const { limit, cursor, ...filter } = query;
    const rows = await listPayments(db.read, {
      ...filter,
      limit: limit + 1,
      before: cursor ? decodeCursor(cursor) : undefined,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    ctx.body = {
      data: page.map(toPaymentResource),
      nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null,
    };
  });

  router.get('/v1/payments/:id', async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    const row = await findPayment(db.read, id);
    if (!row) throw notFound(`Payment ${id}`);
    ctx.body = toPaymentResource(row);
  });

  router.get('/v1/payments/:id/events', async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    if (!(await findPayment(db.read, id))) throw notFound(`Payment ${id}`);
    ctx.body = { data: (await listTransitions(db.read, id)).map(toTransitionResource) };
  });

  router.get('/v1/payments/:id/cancellations', async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    if (!(await findPayment(db.read, id))) throw notFound(`Payment ${id}`);
    const attempts = await listRefundAttempts(db.read, id);
    ctx.body = { data: (await listCancellations(db.read, id)).map((c) => toCancellationResource(c, attempts)) };
  });

  return router;
}
