import { afterEach, describe, expect, it } from 'vitest';
import { hasEventsToFanOut } from '../../db/webhooks-repo.ts';
import { eventually } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';
import { refuseWrites } from '../support/refuse-writes.ts';
import { startMerchantReceiver, type MerchantReceiver } from '../support/merchant-receiver.ts';

let h: Harness;
const receivers: MerchantReceiver[] = [];
afterEach(async () => {
  await h.close();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Retries come fast here: 50 ms, then 50 ms, then the delivery is dead. */
async function setUp(env: Record<string, string> = {}) {
  h = await startHarness({ WEBHOOK_RETRY_SCHEDULE_MS: '50,50', WEBHOOK_POLL_MS: '20', ...env });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 100 });
}

async function receiver(events: string[] = ['*']): Promise<MerchantReceiver & { endpointId: string }> {
  const r = await startMerchantReceiver();
  receivers.push(r);
  const created = await h.request('POST', '/v1/admin/webhook-endpoints', { body: { url: r.url, events }, headers: admin });
  expect(created.status).toBe(201);
  r.secret = created.body.secret;
  return Object.assign(r, { endpointId: created.body.id as string });
}

/** The pull feed, once the relay has handed out every event committed so far (the feed holds those only). */
const feed = async (query = '') => {
  await eventually(async () => !(await hasEventsToFanOut(h.service.db.read)));
  return (await h.request('GET', `/v1/admin/events${query}`, { headers: admin })).body;
};
const completed = async (key: string, billingKey = 'bk_test_ok') => (await h.pay(key, purchase('book-1', 1, billingKey), '?wait=10')).body;
const typesOf = (r: MerchantReceiver, paymentId: string) => r.received.filter((e) => e.paymentId === paymentId).map((e) => e.type);

const readDb = <T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> => h.service.db.read.all<T>(sql, params);

/** Refuses every insert of a payment.completed event, as a full disk or a broken outbox table would; resolves with the undo. */
const refuseCompletedEvents = () =>
  refuseWrites(h.service.db, { table: 'payment_events', event: 'INSERT', message: 'outbox is full', when: "NEW.type = 'payment.completed'" });

describe('the outbox', () => {
  it('writes one event per change of public status, payment.created first, sequence without gaps', async () => {
    await setUp();
    const paid = await completed('k-1');
    await h.request('POST', `/v1/payments/${paid.id}/cancel`, { body: { reason: 'x', amount: 5_000 }, headers: { 'idempotency-key': 'c-1' } });
    await h.settled(paid.id);
    const { data } = await feed(`?paymentId=${paid.id}`);
    expect(data.map((e: { type: string; sequence: number }) => [e.sequence, e.type])).toEqual([
      [1, 'payment.created'],
      [2, 'payment.completed'],
      [3, 'payment.cancel_requested'],
      [4, 'payment.partially_cancelled'],
    ]);
    expect(data[0]).toMatchObject({ id: expect.stringMatching(/^evt_/), paymentId: paid.id, data: { id: paid.id, status: 'processing', amount: 15_000 } });
    // Each event carries the payment as it was then.
    expect(data[1].data).toMatchObject({ status: 'completed', state: 'completed', cancelledAmount: 0 });
    expect(data[3].data).toMatchObject({ status: 'partially_cancelled', cancelledAmount: 5_000 });
    expect(new Date(data[3].occurredAt).getTime()).toBeGreaterThanOrEqual(new Date(data[0].occurredAt).getTime());
  });

  it('serves a pull feed: oldest first, from a cursor, by payment and type', async () => {
    await setUp();
    const a = await completed('k-a');
    const b = await completed('k-b', 'bk_test_decline');
    const first = await feed('?limit=3');
    expect(first.data.map((e: { type: string }) => e.type)).toEqual(['payment.created', 'payment.completed', 'payment.created']);
    const rest = await feed(`?after=${first.nextCursor}`);
    expect(rest.data.map((e: { paymentId: string; type: string }) => [e.paymentId, e.type])).toEqual([[b.id, 'payment.failed']]);
    // Nothing new: the same cursor comes back, so the next poll starts where this one ended.
    expect((await feed(`?after=${rest.nextCursor}`))).toEqual({ data: [], nextCursor: rest.nextCursor });
    expect((await feed('?type=payment.completed')).data.map((e: { paymentId: string }) => e.paymentId)).toEqual([a.id]);
    for (const bad of ['?after=abc', '?after=-1', '?limit=0', '?limit=501', '?type=payment.exploded', '?paymentId=']) {
      const reply = await h.request('GET', `/v1/admin/events${bad}`, { headers: admin });
      expect([bad, reply.status, reply.body.code]).toEqual([bad, 400, 'validation_failed']);
    }
    expect((await h.request('GET', '/v1/admin/events')).status).toBe(401);
  });

  it('commits an event with its status change or neither: a refused event write keeps the old status', async () => {
    await setUp({ RECONCILE_CRON: '0 0 0 29 2 *' });
    const acceptCompletedEvents = await refuseCompletedEvents();
    const { body } = await h.pay('k-atomic', purchase('book-1'));
    await eventually(() => !h.service.host.isLive(body.id));
    await h.service.host.committed();
    const [row] = await readDb<{ status: string; state: string }>('select status, state from payments where id = @id', { id: body.id });
    expect(row?.status).toBe('processing');
    expect(row?.state).not.toBe('completed');
    expect((await feed(`?paymentId=${body.id}`)).data.map((e: { type: string }) => e.type)).toEqual(['payment.created']);

    await acceptCompletedEvents();
    await h.request('POST', '/v1/admin/reconcile', { headers: admin });
    expect((await h.settled(body.id)).status).toBe('completed');
    expect((await feed(`?paymentId=${body.id}`)).data.map((e: { type: string }) => e.type)).toEqual(['payment.created', 'payment.completed']);
  });
});

describe('merchant webhooks', () => {
  it('delivers each event signed with the endpoint secret, webhook-id = event id', async () => {
    await setUp();
    const r = await receiver();
    const paid = await completed('k-signed');
    await eventually(() => typesOf(r, paid.id).length === 2);
    expect(r.forged).toBe(0);
    expect(r.received.map((e) => [e.type, e.sequence])).toEqual([
      ['payment.created', 1],
      ['payment.completed', 2],
    ]);
    for (const event of r.received) expect(event.webhookId).toBe(event.id);
    // The relay records an attempt once the receiver has answered: the second may still be on its way to the database.
    const deliveries = async () => (await h.request('GET', `/v1/admin/webhook-endpoints/${r.endpointId}/deliveries`, { headers: admin })).body.data;
    await eventually(async () => (await deliveries()).length >= 2);
    const attempts = await deliveries();
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ attempt: 1, status: 'delivered', responseStatus: 204, error: null });
    expect(attempts[0].durationMs).toBeTypeOf('number');
  });

  it('sends only the types an endpoint asked for', async () => {
    await setUp();
    const r = await receiver(['payment.failed']);
    await completed('k-ok');
    const declined = await completed('k-no', 'bk_test_decline');
    await eventually(() => r.received.length === 1);
    await eventually(async () => (await feed()).data.length === 4);
    expect(r.received.map((e) => [e.paymentId, e.type])).toEqual([[declined.id, 'payment.failed']]);
  });

  it('retries on the schedule, treats 3xx as failure, then dead-letters the delivery; an operator retry delivers it', async () => {
    await setUp();
    const r = await receiver(['payment.completed']);
    r.answerAlways(302);
    const paid = await completed('k-dead');
    const dead = await eventually(async () => {
      const open = (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data;
      return open.find((e: { kind: string }) => e.kind === 'webhook_delivery');
    });
    expect(r.requests).toBe(3);
    expect(dead).toMatchObject({ paymentId: paid.id, endpointId: r.endpointId, eventId: expect.stringMatching(/^evt_/), reason: 'HTTP 302' });
    const attempts = (await h.request('GET', `/v1/admin/webhook-endpoints/${r.endpointId}/deliveries`, { headers: admin })).body.data;
    expect(attempts.map((a: { attempt: number; status: string }) => [a.attempt, a.status])).toEqual([
      [3, 'failed'],
      [2, 'failed'],
      [1, 'failed'],
    ]);
    const alert = await readDb<{ severity: string }>('select severity from alerts where payment_id = @id', { id: paid.id });
    expect(alert).toEqual([{ severity: 'warning' }]);

    r.answerAlways(undefined);
    const retried = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { body: { reason: 'receiver fixed' }, headers: admin });
    expect(retried.body).toMatchObject({ status: 'retried', note: 'receiver fixed' });
    await eventually(() => r.received.length === 1);
    expect(r.received[0]).toMatchObject({ id: dead.eventId, type: 'payment.completed' });
  });

  it('refuses to retry a dead delivery whose endpoint was deleted, and leaves the dead letter for an ignore', async () => {
    await setUp();
    const r = await receiver(['payment.completed']);
    r.answerAlways(500);
    await completed('k-gone');
    const dead = await eventually(async () =>
      (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data.find((e: { kind: string }) => e.kind === 'webhook_delivery'),
    );
    expect((await h.request('DELETE', `/v1/admin/webhook-endpoints/${r.endpointId}`, { headers: admin })).status).toBe(204);
    const retry = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { headers: admin });
    expect([retry.status, retry.body.code]).toEqual([409, 'invalid_state']);
    const ignored = await h.request('POST', `/v1/admin/failed-events/${dead.id}/ignore`, { body: { reason: 'endpoint gone' }, headers: admin });
    expect(ignored.body).toMatchObject({ status: 'ignored' });
    expect(await readDb('select * from webhook_deliveries')).toEqual([]);
  });

  it('leaves a payment’s delivery dead letters open when the payment itself is resolved', async () => {
    await setUp();
    const r = await receiver(['payment.cancel_requested']);
    r.answerAlways(500);
    const paid = await completed('k-both');
    h.mock.setChaos({ cancelRefusalRate: 1 });
    await h.request('POST', `/v1/payments/${paid.id}/cancel`, { body: { reason: 'x' }, headers: { 'idempotency-key': 'c-both' } });
    expect((await h.settled(paid.id)).status).toBe('requires_attention');
    await eventually(async () =>
      (await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data.some((e: { kind: string }) => e.kind === 'webhook_delivery'),
    );
    const resolved = await h.request('POST', `/v1/admin/payments/${paid.id}/resolve`, { body: { outcome: 'kept', reason: 'x' }, headers: admin });
    expect(resolved.status).toBe(200);
    const all = (await h.request('GET', '/v1/admin/failed-events', { headers: admin })).body.data;
    expect(all.map((e: { kind: string; status: string }) => [e.kind, e.status]).sort()).toEqual([
      ['payment_step', 'resolved'],
      ['webhook_delivery', 'open'],
    ]);
  });

  it('keeps delivering to a live endpoint while another is dead', async () => {
    await setUp({ WEBHOOK_RETRY_SCHEDULE_MS: '100,100,100,100,100,100,100,100,100,100' });
    const down = await receiver();
    down.answerAlways(503);
    const up = await receiver();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await completed(`k-two-${i}`)).id);
    await eventually(() => up.received.length === 10);
    expect(new Set(up.received.map((e) => e.paymentId))).toEqual(new Set(ids));
    expect(down.received).toEqual([]);
  });

  it('keeps a payment’s events in sequence at an endpoint while others go on, under load and failures', async () => {
    await setUp({ WEBHOOK_RETRY_SCHEDULE_MS: '30,30,30,30,30,30,30,30,30,30' });
    const r = await receiver();
    // Every third delivery fails the first time: retries would overtake without the ordering.
    for (let i = 0; i < 40; i++) r.answerNext(i % 3 === 0 ? 500 : 204);
    const paid = await Promise.all(Array.from({ length: 12 }, (_, i) => completed(`k-order-${i}`)));
    await Promise.all(
      paid.slice(0, 6).map((p, i) =>
        h.request('POST', `/v1/payments/${p.id}/cancel`, { body: { reason: 'x' }, headers: { 'idempotency-key': `c-order-${i}` } }),
      ),
    );
    for (const p of paid) await h.settled(p.id);
    const expected = (await feed('?limit=500')).data.length;
    await eventually(() => new Set(r.received.map((e) => e.id)).size === expected, 15_000);
    for (const p of paid) {
      const sequences = r.received.filter((e) => e.paymentId === p.id).map((e) => e.sequence);
      expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
      expect(new Set(sequences).size).toBe(sequences.length);
    }
  });

  it('resumes a delivery after a restart: the event committed before the receiver came back is delivered', async () => {
    await setUp({ WEBHOOK_RETRY_SCHEDULE_MS: '200,200,200,200,200' });
    const r = await receiver(['payment.completed']);
    r.answerAlways(503);
    const paid = await completed('k-restart');
    await eventually(() => r.requests >= 1);
    await h.restart();
    r.answerAlways(undefined);
    await eventually(() => r.received.length === 1);
    expect(r.received[0]).toMatchObject({ paymentId: paid.id, type: 'payment.completed' });
  });

  it('sends a delivery cut short by a shutdown again at once after the restart, not once its claim has run out', async () => {
    await setUp(); // WEBHOOK_TIMEOUT_MS 15 s: the claim outlasts it, so waiting for it would take longer than this test allows
    const r = await receiver(['payment.completed']);
    r.holdRequests(true);
    const paid = await completed('k-cut-short');
    await eventually(() => r.requests >= 1);
    r.holdRequests(false); // the first request stays open: the shutdown cuts it short
    await h.restart();
    await eventually(() => r.received.length === 1, 5_000);
    expect(r.received[0]).toMatchObject({ paymentId: paid.id, type: 'payment.completed' });
  });

  it('delivers each event once when two processes share the database', async () => {
    await setUp();
    await h.startPeer('peer-process', { WEBHOOK_POLL_MS: '5' });
    const r = await receiver();
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push((await completed(`k-peer-${i}`)).id);
    await eventually(() => r.received.length >= 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const counts = new Map<string, number>();
    for (const e of r.received) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(20);
  });
});

describe('webhook endpoints', () => {
  it('creates, lists without secrets, shows one with its secret, deletes', async () => {
    await setUp();
    const created = await h.request('POST', '/v1/admin/webhook-endpoints', {
      body: { url: 'https://merchant.example/hooks', events: ['payment.completed', 'payment.cancelled'], description: 'shop' },
      headers: admin,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^we_[0-9a-f]{16}$/),
      url: 'https://merchant.example/hooks',
      events: ['payment.completed', 'payment.cancelled'],
      description: 'shop',
      secret: expect.stringMatching(/^whsec_/),
      disabled: false,
    });
    const list = await h.request('GET', '/v1/admin/webhook-endpoints', { headers: admin });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).not.toHaveProperty('secret');
    const one = await h.request('GET', `/v1/admin/webhook-endpoints/${created.body.id}`, { headers: admin });
    expect(one.body.secret).toBe(created.body.secret);
    expect((await h.request('DELETE', `/v1/admin/webhook-endpoints/${created.body.id}`, { headers: admin })).status).toBe(204);
    expect((await h.request('GET', `/v1/admin/webhook-endpoints/${created.body.id}`, { headers: admin })).status).toBe(404);
    expect((await h.request('DELETE', `/v1/admin/webhook-endpoints/${created.body.id}`, { headers: admin })).status).toBe(404);
  });

  it('refuses bad input with a 400 and changes nothing', async () => {
    await setUp();
    const bodies: unknown[] = [
      {},
      { url: 'ftp://merchant.example/hooks', events: ['*'] },
      { url: 'javascript:alert(1)', events: ['*'] },
      { url: 'not a url', events: ['*'] },
      { url: 'https://user:secret@merchant.example/hooks', events: ['*'] },
      { url: 'https://token@merchant.example/hooks', events: ['*'] },
      { url: 'https://merchant.example', events: [] },
      { url: 'https://merchant.example', events: ['payment.exploded'] },
      { url: 'https://merchant.example', events: ['*', 'payment.completed'] },
      { url: 'https://merchant.example', events: ['payment.completed', 'payment.completed'] },
      { url: 'https://merchant.example', events: 'payment.completed' },
      { url: 42, events: ['*'] },
      { url: `https://merchant.example/${'x'.repeat(2_001)}`, events: ['*'] },
      { url: 'https://merchant.example', events: ['*'], description: 'x'.repeat(501) },
      [],
    ];
    for (const body of bodies) {
      const reply = await h.request('POST', '/v1/admin/webhook-endpoints', { body, headers: admin });
      expect([JSON.stringify(body).slice(0, 60), reply.status, reply.body.code]).toEqual([JSON.stringify(body).slice(0, 60), 400, 'validation_failed']);
    }
    for (const [method, path] of [
      ['GET', '/v1/admin/webhook-endpoints/nope'],
      ['DELETE', '/v1/admin/webhook-endpoints/we_x'],
      ['GET', '/v1/admin/webhook-endpoints/nope/deliveries'],
    ] as const) {
      expect((await h.request(method, path, { headers: admin })).status).toBe(400);
    }
    expect((await h.request('GET', '/v1/admin/webhook-endpoints/we_0123456789abcdef/deliveries?limit=0', { headers: admin })).status).toBe(400);
    expect((await h.request('POST', '/v1/admin/webhook-endpoints', { body: { url: 'https://m.example', events: ['*'] } })).status).toBe(401);
    expect((await h.request('GET', '/v1/ADMIN/webhook-endpoints', { headers: admin })).status).toBe(404);
    expect((await h.request('GET', '/v1/admin/webhook-endpoints/', { headers: admin })).status).toBe(404);
    expect((await h.request('GET', '/v1/admin/webhook-endpoints', { headers: admin })).body.data).toEqual([]);
  });
});

describe('payments started by an event', () => {
  const event = (id: string, data: unknown = purchase('book-1'), type = 'order.completed') => ({ id, type, data });
  const send = (body: unknown, headers: Record<string, string> = admin) => h.request('POST', '/v1/inbox/events', { body, headers });

  it('creates the payment as POST /v1/payments does, keyed by the event id', async () => {
    await setUp();
    const first = await send(event('trip-1'));
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ eventId: 'trip-1', paymentId: expect.stringMatching(/^pay_/) });
    expect((await h.settled(first.body.paymentId)).status).toBe('completed');
    const again = await send(event('trip-1'));
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const reused = await send(event('trip-1', purchase('book-1', 2)));
    expect([reused.status, reused.body.code]).toEqual([422, 'idempotency_key_reused']);
    // An event id and a client's Idempotency-Key never collide, however the key is spelled.
    for (const key of ['trip-1', 'event:trip-1', 'event.trip-1']) {
      const byClient = await h.pay(key, purchase('book-1', 3));
      expect([key, byClient.status]).toEqual([key, 202]);
      expect(byClient.body.id).not.toBe(first.body.paymentId);
    }
  });

  it('refuses unknown types, invalid data and missing tokens, and makes nothing', async () => {
    await setUp();
    const cases: Array<[unknown, number, string]> = [
      [event('e-1', purchase('book-1'), 'trip.completed'), 422, 'unknown_event_type'],
      [event('e-2', { customerId: 'c-1' }), 400, 'validation_failed'],
      [event('e-2b', { ...purchase('book-1'), items: [{ productId: 'book-1', quantity: 0 }] }), 400, 'validation_failed'],
      [event('bad id', purchase('book-1')), 400, 'validation_failed'],
      [{ type: 'order.completed', data: purchase('book-1') }, 400, 'validation_failed'],
      [event('e-3', purchase('nope')), 422, 'unknown_product'],
      [[], 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const reply = await send(body);
      expect([JSON.stringify(body).slice(0, 50), reply.status, reply.body.code]).toEqual([JSON.stringify(body).slice(0, 50), status, code]);
    }
    // Problems inside data are named from the top of the request.
    expect((await send(event('e-7', { customerId: 'c-1' }))).body.errors.map((e: { path: string }) => e.path)).toEqual(['data.items', 'data.billingKey']);
    expect((await send(event('e-4'), {})).status).toBe(401);
    expect((await send(event('e-5'), { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await h.request('POST', '/v1/INBOX/events', { body: event('e-6'), headers: admin })).status).toBe(404);
    expect((await h.request('GET', '/v1/payments')).body.data).toEqual([]);
  });
});
