import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { dateAt } from '../../src/settlement/business-day.ts';
import { eventually } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, purchase, startHarness, WEBHOOK_SECRET, type Harness, type Reply } from '../support/harness.ts';
import { expectProblem } from '../support/problems.ts';

// ajv-formats is CommonJS with a default export: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Method = 'get' | 'post' | 'patch' | 'delete';
interface Response {
  content?: Record<string, { schema: object }>;
  headers?: Record<string, { required?: boolean }>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Partial<Record<Method, { responses: Record<string, Response> }>>>;
  components: { schemas: Record<string, object> };
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const METHODS: Method[] = ['get', 'post', 'patch', 'delete'];

let h: Harness;
let doc: OpenApi;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();
/** Every operation and status a real response was checked for: the last test asks that each operation has one. */
const checked = new Map<string, Set<number>>();

/** `:id` of a Koa route is `{id}` of an OpenAPI path. */
const openApiPath = (koaPath: string) => koaPath.replace(/:(\w+)/g, '{$1}');

/**
 * `METHOD path` of every route createApp registers. The routers are only built, never called,
 * so every dependency but the two read while building is an inert stand-in.
 */
function registeredRoutes(): string[] {
  const inert: object = new Proxy(() => inert, { get: (_target, key) => (key === 'then' ? undefined : inert) });
  const given: Record<string, unknown> = { adminToken: ADMIN_TOKEN, webhookSecret: WEBHOOK_SECRET, logger: createLogger('silent', 'routes') };
  const deps = new Proxy(given, { get: (target, key) => (typeof key === 'string' && key in target ? target[key] : inert) });
  const app = createApp(deps as unknown as AppDeps);
  const routes = new Set<string>();
  for (const middleware of app.middleware as Array<{ router?: { stack: Array<{ path: string; methods: string[] }> } }>) {
    for (const layer of middleware.router?.stack ?? []) {
      for (const method of layer.methods) if (method !== 'HEAD') routes.add(`${method.toLowerCase()} ${openApiPath(layer.path)}`);
    }
  }
  return [...routes].sort();
}

const documentedRoutes = () =>
  Object.entries(doc.paths)
    .flatMap(([path, item]) => METHODS.filter((method) => item[method]).map((method) => `${method} ${path}`))
    .sort();

function validatorFor(key: string, schema: object): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    // The document's components travel with the schema, so its `#/components/schemas/…` references resolve.
    validate = ajv.compile({ ...schema, components: doc.components });
    validators.set(key, validate);
  }
  return validate;
}

/** The reply must be one the document declares for this operation: its status, media type, required headers and body schema. */
function expectDocumented(method: Method, path: string, reply: { status: number; headers: Headers; body: unknown }): void {
  const what = `${method.toUpperCase()} ${path} → ${reply.status}`;
  const response = doc.paths[path]?.[method]?.responses[String(reply.status)];
  expect(response, `${what} is not in the document`).toBeDefined();
  for (const [name, header] of Object.entries(response!.headers ?? {})) {
    if (header.required) expect(reply.headers.get(name), `${what}: header ${name}`).not.toBeNull();
  }
  const mediaType = reply.headers.get('content-type')?.split(';')[0]!.trim();
  if (!response!.content) {
    expect(reply.body, `${what} has a body`).toBe('');
  } else {
    expect(Object.keys(response!.content), what).toContain(mediaType);
    if (mediaType === 'application/json' || mediaType === 'application/problem+json') {
      const validate = validatorFor(`${what} ${mediaType}`, response!.content[mediaType!]!.schema);
      expect(validate(reply.body), `${what}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(reply.body)}`).toBe(true);
    }
  }
  const key = `${method} ${path}`;
  checked.set(key, (checked.get(key) ?? new Set()).add(reply.status));
}

/** Sends a request, checks the reply against the document, and hands it back. `path` is the document's template. */
async function call(
  method: Method,
  path: string,
  options: { params?: Record<string, string>; query?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(options.params?.[name] ?? '')) + (options.query ?? '');
  const reply = await h.request(method.toUpperCase(), url, options);
  expectDocumented(method, path, reply);
  return reply;
}

/** A request exactly as written, without the URL normalisation of fetch (`..` stays `..`, `%zz` stays bad). */
function rawRequest(method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${h.url}/`, { method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers(Object.entries(res.headers).map(([name, value]): [string, string] => [name, String(value)]));
        try {
          resolve({ status: res.statusCode!, headers, body: headers.get('content-type')?.includes('json') ? JSON.parse(text) : text });
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('error', reject).end();
  });
}

const pay = (key: string, body: unknown, query = '') => call('post', '/v1/payments', { body, query, headers: { 'idempotency-key': key } });
const cancel = (id: string, key: string, body: unknown, query = '') =>
  call('post', '/v1/payments/{id}/cancel', { params: { id }, body, query, headers: { 'idempotency-key': key } });

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_RETRY_SCHEDULE_MS: '60000' });
  const reply = await h.request('GET', '/openapi.json');
  doc = reply.body as OpenApi;
});
afterAll(() => h.close());

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('describes every route the app registers, and no other', () => {
    const registered = registeredRoutes();
    const documented = documentedRoutes();
    expect(registered.filter((route) => !documented.includes(route)), 'registered, not in the document').toEqual([]);
    expect(documented.filter((route) => !registered.includes(route)), 'in the document, not registered').toEqual([]);
  });

  it('is itself served as the document describes', async () => {
    await call('get', '/openapi.json');
  });
});

describe('real responses match the document', () => {
  let completedId: string;

  it('health, readiness, metrics and machines', async () => {
    await call('get', '/healthz');
    await call('get', '/readyz');
    await call('get', '/metrics');
    await call('get', '/v1/machines/payment');
    await call('get', '/v1/machines/settlement');
  });

  it('products', async () => {
    expect((await call('post', '/v1/products', { body: { id: 'book-1', name: 'A book', price: 15_000, stock: 20, partnerId: 'partner-1' }, headers: admin })).status).toBe(201);
    expect((await call('post', '/v1/products', { body: { id: 'book-1', name: 'A book', price: 15_000, stock: 1, partnerId: 'partner-1' }, headers: admin })).status).toBe(409);
    await call('post', '/v1/products', { body: { id: 'cd-1', name: 'A CD', price: 9_000, stock: 5, partnerId: 'partner-2' }, headers: admin });
    expect((await call('post', '/v1/products', { body: { name: 'free', price: 0, stock: 1, partnerId: 'p' }, headers: admin })).status).toBe(400);
    expect((await call('post', '/v1/products', { body: { name: 'x', price: 1, stock: 1, partnerId: 'p' } })).status).toBe(401);
    expect((await call('post', '/v1/products', { raw: '{"name":', headers: { ...admin, 'content-type': 'application/json' } })).status).toBe(400);
    expect((await call('get', '/v1/products', { query: '?limit=1' })).body.nextCursor).toBe('book-1');
    await call('get', '/v1/products', { query: '?limit=0' });
    expect((await call('get', '/v1/products/{id}', { params: { id: 'book-1' } })).status).toBe(200);
    expect((await call('get', '/v1/products/{id}', { params: { id: 'nothing' } })).status).toBe(404);
  });

  it('payments: created, replayed, declined, refused', async () => {
    const created = await pay('oa-ok', { ...purchase('book-1', 2), metadata: { channel: 'web' } }, '?wait=10');
    expect(created.body).toMatchObject({ status: 'completed' });
    completedId = created.body.id;
    expect((await pay('oa-ok', { ...purchase('book-1', 2), metadata: { channel: 'web' } })).headers.get('idempotent-replayed')).toBe('true');
    expect((await pay('oa-ok', purchase('book-1', 3))).status).toBe(422);
    expect((await pay('oa-declined', purchase('book-1', 1, 'bk_test_decline'), '?wait=10')).body).toMatchObject({ status: 'failed', failureCode: 'card_declined' });
    expect((await pay('oa-none', purchase('nothing'))).body.code).toBe('unknown_product');
    expect((await pay('oa-mixed', { ...purchase('book-1'), items: [{ productId: 'book-1', quantity: 1 }, { productId: 'cd-1', quantity: 1 }] })).body.code).toBe('mixed_partners');
    expect((await pay('oa-bad', { ...purchase('book-1'), items: [{ productId: 'book-1', quantity: 0.5 }] })).body.code).toBe('validation_failed');
    expect((await pay('bad key!', purchase('book-1'))).body.code).toBe('invalid_idempotency_key');
    expect((await call('post', '/v1/payments', { body: purchase('book-1') })).body.code).toBe('idempotency_key_required');
  });

  it('payments: read, listed, logged', async () => {
    await call('get', '/v1/payments/{id}', { params: { id: completedId } });
    await call('get', '/v1/payments/{id}', { params: { id: 'pay_nothing' } });
    await call('get', '/v1/payments/{id}', { params: { id: 'x'.repeat(256) } });
    const page = await call('get', '/v1/payments', { query: '?limit=1' });
    expect(page.body.nextCursor).not.toBeNull();
    await call('get', '/v1/payments', { query: `?customerId=c-1&status=completed&cursor=${page.body.nextCursor}` });
    await call('get', '/v1/payments', { query: '?cursor=bm9wZQ' });
    await call('get', '/v1/payments/{id}/events', { params: { id: completedId } });
    await call('get', '/v1/payments/{id}/events', { params: { id: 'pay_nothing' } });
  });

  it('payments: cancelled in part, refused when not cancellable', async () => {
    const refunded = await cancel(completedId, 'oa-refund-1', { reason: 'one copy damaged', amount: 15_000 }, '?wait=10');
    expect(refunded.body).toMatchObject({ status: 'partially_cancelled' });
    await call('get', '/v1/payments/{id}/cancellations', { params: { id: completedId } });
    await call('get', '/v1/payments/{id}/cancellations', { params: { id: 'pay_nothing' } });
    expect((await cancel(completedId, 'oa-refund-2', { reason: 'too much', amount: 1_000_000 })).body.code).toBe('amount_exceeds_cancellable');
    const declined = (await h.request('GET', '/v1/payments?status=failed')).body.data[0].id as string;
    expect((await cancel(declined, 'oa-refund-3', { reason: 'nothing to refund' })).body.code).toBe('invalid_state');
    expect((await cancel('pay_nothing', 'oa-refund-4', { reason: 'nothing' })).status).toBe(404);
  });

  it('payments: the live stream and its snapshot', async () => {
    const controller = new AbortController();
    const response = await fetch(`${h.url}/v1/payments/${completedId}/live`, { signal: controller.signal });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expectDocumented('get', '/v1/payments/{id}/live', { status: response.status, headers: response.headers, body: text });
    const snapshot = JSON.parse(/^data: (.*)$/m.exec(text)![1]!);
    const validate = validatorFor('LiveSnapshot', { $ref: '#/components/schemas/LiveSnapshot' });
    expect(validate(snapshot), JSON.stringify(validate.errors)).toBe(true);
    await call('get', '/v1/payments/{id}/live', { params: { id: 'pay_nothing' } });
  });

  it('dead letters: listed, retried, ignored, resolved', async () => {
    const bought = await pay('oa-dead', purchase('book-1', 1), '?wait=10');
    h.mock.setChaos({ cancelRefusalRate: 1 });
    try {
      await cancel(bought.body.id, 'oa-dead-refund', { reason: 'customer left' });
      expect(await h.settled(bought.body.id)).toMatchObject({ status: 'requires_attention' });
      const open = await call('get', '/v1/admin/failed-events', { query: '?status=open', headers: admin });
      const first = open.body.data[0].id as string;
      expect((await call('post', '/v1/admin/failed-events/{id}/retry', { params: { id: first }, body: { reason: 'PG back' }, headers: admin })).body.status).toBe('retried');
      expect((await call('post', '/v1/admin/failed-events/{id}/retry', { params: { id: first }, headers: admin })).status).toBe(409);
      expect((await call('post', '/v1/admin/failed-events/{id}/retry', { params: { id: '999999' }, headers: admin })).status).toBe(404);
      expect((await call('post', '/v1/admin/failed-events/{id}/ignore', { params: { id: 'x' }, body: { reason: 'r' }, headers: admin })).status).toBe(400);
      // The retry sent the refund again, and the issuer refused it again: a new dead letter.
      const again = await eventually(async () => {
        const events = (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data as Array<{ id: string }>;
        return events[0]?.id;
      });
      expect((await call('post', '/v1/admin/failed-events/{id}/ignore', { params: { id: again }, body: { reason: 'looking' }, headers: admin })).body.status).toBe('ignored');
      await call('post', '/v1/admin/failed-events/retry-all', { headers: admin });
      await call('get', '/v1/admin/failed-events', { query: '?status=nope', headers: admin });
      await call('get', '/v1/admin/failed-events', {});
      const resolved = await call('post', '/v1/admin/payments/{id}/resolve', { params: { id: bought.body.id }, body: { outcome: 'kept', reason: 'the bank said no' }, headers: admin });
      expect(resolved.status).toBe(200);
      expect((await call('post', '/v1/admin/payments/{id}/resolve', { params: { id: completedId }, body: { outcome: 'kept', reason: 'r' }, headers: admin })).status).toBe(409);
      expect((await call('post', '/v1/admin/payments/{id}/resolve', { params: { id: 'pay_nothing' }, body: { outcome: 'kept', reason: 'r' }, headers: admin })).status).toBe(404);
      expect((await call('post', '/v1/admin/payments/{id}/resolve', { params: { id: completedId }, body: { outcome: 'maybe' }, headers: admin })).status).toBe(400);
    } finally {
      h.mock.setChaos({ cancelRefusalRate: 0 });
    }
    await call('post', '/v1/admin/reconcile', { headers: admin });
  });

  it('the console: figures, their stream, the export, the pages and their files', async () => {
    await call('get', '/v1/admin/figures', { headers: admin });
    await call('get', '/v1/admin/figures', {});
    const controller = new AbortController();
    const response = await fetch(`${h.url}/v1/admin/figures/live`, { headers: admin, signal: controller.signal });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expectDocumented('get', '/v1/admin/figures/live', { status: response.status, headers: response.headers, body: text });
    const validate = validatorFor('Figures', { $ref: '#/components/schemas/Figures' });
    expect(validate(JSON.parse(/^data: (.*)$/m.exec(text)![1]!)), JSON.stringify(validate.errors)).toBe(true);
    await call('get', '/v1/admin/figures/live', {});
    await call('get', '/v1/admin/payments/export', { query: '?status=completed&from=2026-01-01T00:00:00%2B09:00', headers: admin });
    await call('get', '/v1/admin/payments/export', { query: '?from=2026-01-01', headers: admin });
    await call('get', '/v1/admin/payments/export', {});
    // The harness's PG is a mock, but not announced as ours (PG_MOCK_CONTROLS): no controls.
    await call('get', '/v1/admin/mock-pg/chaos', { headers: admin });
    await call('post', '/v1/admin/mock-pg/chaos', { body: { failureRate: 2 }, headers: admin });
    const root = await fetch(`${h.url}/`, { redirect: 'manual' });
    expectDocumented('get', '/', { status: root.status, headers: root.headers, body: await root.text() });
    for (const path of ['/console', '/console/attention', '/console/figures', '/console/settlements', '/console/events', '/payment', '/payment/mypage']) await call('get', path);
    await call('get', '/console/payments/{id}', { params: { id: completedId } });
    await call('get', '/assets/{name}', { params: { name: 'console-payments.js' } });
    await call('get', '/assets/{name}', { params: { name: 'style.css' } });
    await call('get', '/assets/{name}', { params: { name: 'nothing.js' } });
  });

  it('payment events and webhook endpoints', async () => {
    const feed = await call('get', '/v1/admin/events', { query: '?limit=500', headers: admin });
    expect(feed.body.data.length).toBeGreaterThan(3);
    await call('get', '/v1/admin/events', { query: '?after=abc', headers: admin });
    // Nothing listens on port 9 here: every delivery fails, and is listed as an attempt.
    const created = await call('post', '/v1/admin/webhook-endpoints', { body: { url: 'http://127.0.0.1:9/hooks', events: ['*'], description: 'nobody' }, headers: admin });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await call('post', '/v1/admin/webhook-endpoints', { body: { url: 'ftp://example.test/x', events: ['*'] }, headers: admin });
    await call('get', '/v1/admin/webhook-endpoints', { headers: admin });
    await call('get', '/v1/admin/webhook-endpoints/{id}', { params: { id }, headers: admin });
    await call('get', '/v1/admin/webhook-endpoints/{id}', { params: { id: 'we_0000000000000000' }, headers: admin });
    await call('get', '/v1/admin/webhook-endpoints/{id}', { params: { id: 'nope' }, headers: admin });
    await pay('oa-hooked', purchase('book-1', 1), '?wait=10');
    await eventually(async () => {
      const deliveries = await call('get', '/v1/admin/webhook-endpoints/{id}/deliveries', { params: { id }, query: '?limit=5', headers: admin });
      return deliveries.body.data.length > 0;
    });
    await call('get', '/v1/admin/webhook-endpoints/{id}/deliveries', { params: { id }, query: '?limit=0', headers: admin });
    await call('get', '/v1/admin/webhook-endpoints/{id}/deliveries', { params: { id: 'we_0000000000000000' }, headers: admin });
    expect((await call('delete', '/v1/admin/webhook-endpoints/{id}', { params: { id }, headers: admin })).status).toBe(204);
    expect((await call('delete', '/v1/admin/webhook-endpoints/{id}', { params: { id }, headers: admin })).status).toBe(404);
    await call('delete', '/v1/admin/webhook-endpoints/{id}', { params: { id: 'nope' }, headers: admin });
  });

  it('inbound events', async () => {
    const event = { id: 'order-42', type: 'order.completed', data: purchase('book-1') };
    expect((await call('post', '/v1/inbox/events', { body: event, headers: admin })).status).toBe(202);
    expect((await call('post', '/v1/inbox/events', { body: event, headers: admin })).status).toBe(200);
    expect((await call('post', '/v1/inbox/events', { body: { ...event, data: purchase('book-1', 2) }, headers: admin })).body.code).toBe('idempotency_key_reused');
    expect((await call('post', '/v1/inbox/events', { body: { ...event, id: 'order-43', type: 'order.shipped' }, headers: admin })).body.code).toBe('unknown_event_type');
    expect((await call('post', '/v1/inbox/events', { body: { ...event, id: 'order-44', data: {} }, headers: admin })).status).toBe(400);
    expect((await call('post', '/v1/inbox/events', { body: event })).status).toBe(401);
  });

  it('partners and settlements', async () => {
    expect((await call('post', '/v1/admin/partners', { body: { id: 'partner-1', name: 'Seoul Books', feeRateBps: 300 }, headers: admin })).status).toBe(201);
    expect((await call('post', '/v1/admin/partners', { body: { id: 'partner-1', name: 'Again', feeRateBps: 1 }, headers: admin })).status).toBe(409);
    await call('post', '/v1/admin/partners', { body: { id: 'partner-9', name: 'x', feeRateBps: 10_001 }, headers: admin });
    await call('get', '/v1/admin/partners/{id}', { params: { id: 'partner-1' }, headers: admin });
    await call('get', '/v1/admin/partners/{id}', { params: { id: 'nobody' }, headers: admin });
    await call('patch', '/v1/admin/partners/{id}', { params: { id: 'partner-1' }, body: { feeRateBps: 250 }, headers: admin });
    await call('patch', '/v1/admin/partners/{id}', { params: { id: 'partner-1' }, body: {}, headers: admin });
    await call('patch', '/v1/admin/partners/{id}', { params: { id: 'nobody' }, body: { name: 'n' }, headers: admin });

    const today = dateAt(Date.now(), 'Asia/Seoul');
    const run = await call('post', '/v1/admin/settlements/run', { body: { date: today }, headers: admin });
    expect(run.status).toBe(202);
    const settlement = (run.body.data as Array<{ id: string; partnerId: string; paymentCount: number }>).find((s) => s.partnerId === 'partner-1')!;
    expect(settlement.paymentCount).toBeGreaterThan(0);
    expect((await call('post', '/v1/admin/settlements/run', { body: { date: '2999-01-01' }, headers: admin })).body.code).toBe('date_in_future');
    await call('post', '/v1/admin/settlements/run', { body: { date: '2026-02-30' }, headers: admin });
    await call('get', '/v1/admin/settlements', { query: `?date=${today}&limit=1`, headers: admin });
    await call('get', '/v1/admin/settlements', { query: '?limit=0', headers: admin });
    const withLines = await call('get', '/v1/admin/settlements/{id}', { params: { id: settlement.id }, headers: admin });
    expect(withLines.body.lines.length).toBeGreaterThan(0);
    await call('get', '/v1/admin/settlements/{id}', { params: { id: 'stl_000000000' + '0'.repeat(16) }, headers: admin });
    await call('get', '/v1/admin/settlements/{id}', { params: { id: 'nope' }, headers: admin });
    const csv = await call('get', '/v1/admin/settlements/{id}/lines.csv', { params: { id: settlement.id }, headers: admin });
    expect(csv.body).toMatch(/^payment_id,kind,amount,fee,at\r\n/);
    await call('get', '/v1/admin/settlements/{id}/lines.csv', { params: { id: 'stl_000000000' + '0'.repeat(16) }, headers: admin });
  });

  it('PG webhooks', async () => {
    const send = (body: string, id = `msg_${randomUUID()}`, signature = new Webhook(WEBHOOK_SECRET).sign(id, new Date(), body)) =>
      call('post', '/v1/pg/webhooks', {
        raw: body,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': signature,
        },
      });
    const paid = JSON.stringify({ type: 'Transaction.Paid', timestamp: new Date().toISOString(), data: { paymentId: completedId } });
    const id = `msg_${randomUUID()}`;
    expect((await send(paid, id)).body).toEqual({ status: 'ok' });
    expect((await send(paid, id)).body).toEqual({ status: 'duplicate' });
    expect((await send(paid, undefined, 'v1,Zm9yZ2Vk')).body.code).toBe('invalid_signature');
    expect((await send('{"type":42}')).body.code).toBe('invalid_body');
  });
});

describe('the API reference page', () => {
  it('loads only from this origin', async () => {
    const page = await call('get', '/docs');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const urls = [...String(page.body).matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1]!);
    expect(urls.length).toBeGreaterThan(2);
    for (const url of urls) expect(url, url).toMatch(/^\/(?!\/)/);
    for (const url of urls) {
      const asset = await fetch(`${h.url}${url}`);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get('content-type'), url).toMatch(/^(text\/css|text\/javascript|image\/png)/);
      const body = await asset.text();
      const [, file] = /^\/docs\/assets\/(.+)$/.exec(url) ?? [];
      if (file) expectDocumented('get', '/docs/assets/{file}', { status: asset.status, headers: asset.headers, body });
      else expectDocumented('get', url, { status: asset.status, headers: asset.headers, body });
    }
  });

  it('points Swagger UI at our document, without the swagger.io validator', async () => {
    const script = await call('get', '/docs/init.js');
    expect(script.body).toContain("url: '/openapi.json'");
    expect(script.body).toContain('validatorUrl: null');
  });

  it('serves only the files it needs: no other file, no listing, no way out', async () => {
    await call('get', '/docs/assets/{file}', { params: { file: 'index.html' } });
    await call('get', '/docs/assets/{file}', { params: { file: '../package.json' } });
    for (const path of ['/docs/assets/', '/docs/assets/..%2F..%2F..%2Fpackage.json', '/docs/assets/../../package.json', '/docs/assets/%2e%2e/index.html']) {
      expectProblem(await rawRequest('GET', path), 404, 'not_found', path);
    }
  });

  it('names no other host: no URL in the page or its script, only data: images in the stylesheet', async () => {
    const page = (await h.request('GET', '/docs')).body as string;
    const script = (await h.request('GET', '/docs/init.js')).body as string;
    for (const text of [page, script]) expect(text).not.toMatch(/(?:https?:)?\/\/[\w.-]/i);
    const css = (await h.request('GET', '/docs/assets/swagger-ui.css')).body as string;
    const urls = [...css.matchAll(/url\(\s*['"]?([^'")\s]*)/g)].map((match) => match[1]!);
    expect(urls.filter((url) => !url.startsWith('data:'))).toEqual([]);
  });
});

describe('the document and the page asked the wrong way', () => {
  const paths = ['/openapi.json', '/docs', '/docs/init.js', '/docs/assets/swagger-ui.css'];

  it('another method is a 405 problem document', async () => {
    for (const path of paths) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND']) {
        const reply = await rawRequest(method, path);
        expectProblem(reply, 405, 'method_not_allowed', `${method} ${path}`);
        expect(reply.headers.get('allow'), `${method} ${path}`).toContain('GET');
      }
    }
  });

  it('another spelling is a 404 problem document', async () => {
    const near = [
      ...['/OPENAPI.JSON', '/OpenAPI.json', '/openapi.json/', '//openapi.json', '/openapi', '/openapi.yaml', '/%6fpenapi.json', '/openapi.json%00'],
      ...['/Docs', '/DOCS', '/docs/', '//docs', '/docs//', '/docs/index.html', '/%64ocs', '/docs%2F'],
      ...['/docs/Init.js', '/docs/init.js/', '/docs/assets', '/docs/assets/Swagger-UI.css', '/docs/assets/swagger-ui.css/', '/docs/assets/%zz', '/docs/assets/swagger-ui.css%00'],
    ];
    for (const path of near) expectProblem(await rawRequest('GET', path), 404, 'not_found', path);
  });
});

describe('coverage', () => {
  it('every documented operation answered at least once in these tests', () => {
    expect(documentedRoutes().filter((route) => !checked.has(route))).toEqual([]);
  });
});
