import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { Database } from '../../../db/connection.ts';
import { listPaymentEvents } from '../../../db/events-repo.ts';
import {
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listAttempts,
  listWebhookEndpoints,
  type WebhookAttemptRow,
  type WebhookEndpointRow,
} from '../../../db/webhooks-repo.ts';
import { PUBLIC_STATUSES } from '../../../machines/payment-status.ts';
import { notFound } from '../../errors.ts';
import { toPaymentEventResource } from '../../events/payment-events.ts';
import { exactRouter } from '../router.ts';
import { queryInteger } from '../schemas.ts';
import { validate } from '../validate.ts';

export interface PaymentEventRoutesDeps {
  db: Database;
  clock: () => number;
  admin: Middleware;
}

/** Every type a payment event can have: the first, then one per public status. */
export const PAYMENT_EVENT_TYPES = ['payment.created', ...PUBLIC_STATUSES.map((status) => `payment.${status}`)] as const;

const iso = (ms: number) => new Date(ms).toISOString();
const position = z.string().regex(/^\d{1,15}$/, 'a nextCursor of this feed');

export const feedQuery = z.object({
  after: position.optional(),
  paymentId: z.string().min(1).max(255).optional(),
  type: z.enum(PAYMENT_EVENT_TYPES).optional(),
  limit: queryInteger(1, 500, 100),
});

export const endpointBody = z.object({
  url: z
    .url({ protocol: /^https?$/, error: 'an http or https URL' })
    .max(2_000)
    // The HTTP client would silently drop them: the endpoint would never see its credentials.
    .refine((url) => !/^[a-z]+:\/\/[^/?#]*@/i.test(url), 'no user name or password in the URL; put a token in its path or query'),
  events: z.union([
    z.tuple([z.literal('*')]),
    z
      .array(z.enum(PAYMENT_EVENT_TYPES))
      .min(1)
      .max(PAYMENT_EVENT_TYPES.length)
      .refine((types) => new Set(types).size === types.length, 'each type at most once'),
  ]),
  description: z.string().max(500).optional(),
});

export const endpointId = z.object({ id: z.string().regex(/^we_[0-9a-f]{16}$/, 'not a webhook endpoint id') });
export const deliveriesQuery = z.object({ limit: queryInteger(1, 100, 20) });

function toEndpointResource(row: WebhookEndpointRow, withSecret: boolean) {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    description: row.description,
    ...(withSecret ? { secret: row.secret } : {}),
    disabled: row.disabled === 1,
    createdAt: iso(row.createdAt),
  };
}

const toAttemptResource = (row: WebhookAttemptRow) => ({
  eventId: row.eventId,
  attempt: row.attempt,
  status: row.status,
  responseStatus: row.responseStatus,
  durationMs: row.durationMs,
  error: row.error,
  at: iso(row.at),
});

/** The pull feed of payment events and the merchants' webhook endpoints (admin). */
export function paymentEventRoutes({ db, clock, admin }: PaymentEventRoutesDeps): Router {
  const router = exactRouter({ prefix: '/v1/admin' });

  router.get('/events', admin, async (ctx) => {
    const query = validate(feedQuery, ctx.query);
    const after = Number(query.after ?? 0);
    const rows = await listPaymentEvents(db.read, { after, paymentId: query.paymentId, type: query.type, limit: query.limit });
    // The cursor never goes back: with nothing new, the same one is handed back for the next poll.
    ctx.body = { data: rows.map(toPaymentEventResource), nextCursor: String(rows.at(-1)?.feedPosition ?? after) };
  });

  router.post('/webhook-endpoints', admin, async (ctx) => {
    const body = validate(endpointBody, ctx.request.body);
    const row: WebhookEndpointRow = {
      id: `we_${randomBytes(8).toString('hex')}`,
      // As the URL standard writes it: one endpoint, one spelling.
      url: new URL(body.url).href,
      events: JSON.stringify(body.events),
      description: body.description ?? null,
      secret: `whsec_${randomBytes(24).toString('base64')}`,
      disabled: 0,
      createdAt: clock(),
    };
    await db.commit.run((tx) => insertWebhookEndpoint(tx, row));
    ctx.status = 201;
    ctx.set('Location', `/v1/admin/webhook-endpoints/${row.id}`);
    ctx.body = toEndpointResource(row, true);
  });

  router.get('/webhook-endpoints', admin, async (ctx) => {
    ctx.body = { data: (await listWebhookEndpoints(db.read)).map((row) => toEndpointResource(row, false)) };
  });

  router.get('/webhook-endpoints/:id', admin, async (ctx) => {
    const { id } = validate(endpointId, ctx.params);
    const row = await findWebhookEndpoint(db.read, id);
    if (!row) throw notFound(`Webhook endpoint ${id}`);
    ctx.body = toEndpointResource(row, true);
  });

  router.delete('/webhook-endpoints/:id', admin, async (ctx) => {
    const { id } = validate(endpointId, ctx.params);
    if (!(await db.commit.run((tx) => deleteWebhookEndpoint(tx, id)))) throw notFound(`Webhook endpoint ${id}`);
    ctx.status = 204;
  });

  router.get('/webhook-endpoints/:id/deliveries', admin, async (ctx) => {
    const { id } = validate(endpointId, ctx.params);
    const { limit } = validate(deliveriesQuery, ctx.query);
    if (!(await findWebhookEndpoint(db.read, id))) throw notFound(`Webhook endpoint ${id}`);
    ctx.body = { data: (await listAttempts(db.read, id, limit)).map(toAttemptResource) };
  });

  return router;
}
