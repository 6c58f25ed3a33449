import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, PG_SECRET, purchase, startHarness, type Harness } from '../support/harness.ts';
import { refuseWrites } from '../support/refuse-writes.ts';

let h: Harness;
afterEach(() => h.close());

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function setUp(env: Record<string, string> = {}) {
  h = await startHarness(env, {}, { proxy: true });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
}

async function completedPayment(key: string, billingKey = 'bk_test_ok'): Promise<string> {
  const { body } = await h.pay(key, purchase('book-1', 2, billingKey), '?wait=10');
  expect(body.status).toBe('completed');
  return body.id;
}

/** A refund the card issuer refuses: the payment ends needing an operator. Refunds are accepted again afterwards. */
async function refundDeadLetter(key = 'k-buy'): Promise<string> {
  const id = await completedPayment(key);
  h.mock.setChaos({ cancelRefusalRate: 1 });
  const reply = await h.request('POST', `/v1/payments/${id}/cancel`, { body: { reason: 'customer left' }, headers: { 'idempotency-key': `c-${key}` } });
  expect(reply.status).toBe(202);
  expect(await h.settled(id)).toMatchObject({ status: 'requires_attention', failureCode: 'compensation_failed' });
  h.mock.setChaos({ cancelRefusalRate: 0 });
  return id;
}

const resolve = (id: string, body: unknown, headers: Record<string, string> = admin) =>
  h.request('POST', `/v1/admin/payments/${id}/resolve`, { body, headers });
const failedEvents = async (id: string) =>
  ((await h.request('GET', '/v1/admin/failed-events', { headers: admin })).body.data as Array<Record<string, unknown>>).filter(
    (e) => e.paymentId === id,
  );
const log = async (id: string) => (await h.request('GET', `/v1/payments/${id}/events`)).body.data as Array<Record<string, any>>;
const stock = async () => (await h.request('GET', '/v1/products/book-1')).body.stock as number;
const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);

/** Makes every update of `table` fail for real: the database refuses the write. */
const breakUpdates = (table: string) => refuseWrites(h.service.db, { table, event: 'UPDATE', message: 'offline' });

describe('resolving a payment by hand', () => {
  it('cancelled: the money went back outside Paystate, the stock goes back, the dead letter is resolved', async () => {
    await setUp();
    const id = await refundDeadLetter();
    expect(await stock()).toBe(3);
    const reply = await resolve(id, { outcome: 'cancelled', reason: 'refunded by bank transfer' }, { ...admin, 'x-admin-actor': 'kim@ops' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id, status: 'processing' });
    expect(await h.settled(id)).toMatchObject({ status: 'cancelled', failureCode: 'resolved_by_operator', cancelledAmount: 30_000 });
    expect(await stock()).toBe(5);
    expect(await failedEvents(id)).toMatchObject([
      { kind: 'payment_step', status: 'resolved', resolvedBy: 'kim@ops', note: 'cancelled: refunded by bank transfer' },
    ]);
    expect((await log(id)).find((e) => e.type === 'admin.resolve')).toMatchObject({
      from: 'requires_attention',
      detail: { actor: 'kim@ops', reason: 'refunded by bank transfer', outcome: 'cancelled' },
    });
    // The PG still holds the charge: settled outside it, as the operator said.
    expect(ledgerOf(id)).toMatchObject({ status: 'PAID', cancelledAmount: 0 });
  });

  it('kept: the charge stands and the payment is completed again', async () => {
    await setUp();
    const id = await refundDeadLetter();
    const reply = await resolve(id, { outcome: 'kept', reason: 'customer withdrew the request' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: 'completed', failureCode: null, cancelledAmount: 0 });
    expect(await stock()).toBe(3);
    expect(await failedEvents(id)).toMatchObject([{ status: 'resolved', resolvedBy: 'admin', note: 'kept: customer withdrew the request' }]);
    expect((await h.request('GET', '/v1/admin/failed-events?status=resolved', { headers: admin })).body.data).toHaveLength(1);
  });

  it('gives an ignored dead letter a way out: resolve still settles the payment', async () => {
    await setUp();
    const id = await refundDeadLetter();
    const [dead] = await failedEvents(id);
    await h.request('POST', `/v1/admin/failed-events/${dead!.id}/ignore`, { body: { reason: 'looking into it' }, headers: admin });
    expect((await resolve(id, { outcome: 'cancelled', reason: 'refunded by hand' })).status).toBe(200);
    expect((await h.settled(id)).status).toBe('cancelled');
    expect(await stock()).toBe(5);
  });

  it('refuses what it cannot do, and changes nothing', async () => {
    await setUp();
    const done = await completedPayment('k-done');
    const notNeeded = await resolve(done, { outcome: 'cancelled', reason: 'x' });
    expect(notNeeded.status).toBe(409);
    expect(notNeeded.body.code).toBe('invalid_state');
    expect(notNeeded.headers.get('content-type')).toContain('application/problem+json');

    // A stock release that keeps failing after a decline: no charge to keep.
    await breakUpdates('stock_reservations');
    const { body } = await h.pay('k-declined', purchase('book-1', 1, 'bk_test_decline'));
    expect((await h.settled(body.id)).status).toBe('requires_attention');
    const keep = await resolve(body.id, { outcome: 'kept', reason: 'x' });
    expect(keep.status).toBe(409);
    expect(keep.body.detail).toContain('cannot be kept');
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body.status).toBe('requires_attention');

    expect((await resolve('pay_nope', { outcome: 'kept', reason: 'x' })).status).toBe(404);
    for (const bad of [{}, { outcome: 'refunded', reason: 'x' }, { outcome: 'kept' }, { outcome: 'kept', reason: '' }, { outcome: ['kept'], reason: 'x' }]) {
      const reply = await resolve(body.id, bad);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('validation_failed');
    }
    expect((await resolve(body.id, { outcome: 'cancelled', reason: 'x' }, {})).status).toBe(401);
    expect((await resolve(body.id, { outcome: 'cancelled', reason: 'x' }, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await h.request('POST', `/v1/ADMIN/payments/${body.id}/resolve`, { body: { outcome: 'cancelled', reason: 'x' } })).status).toBe(404);
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body.status).toBe('requires_attention');
    expect(await failedEvents(body.id)).toMatchObject([{ status: 'open' }]);
  });
});

describe('retrying every dead letter', () => {
  it('goes on past one it cannot retry now, and says which', async () => {
    await setUp();
    const busy = await refundDeadLetter('k-busy');
    const free = await refundDeadLetter('k-free');
    // Another process holds the first payment right now.
    await h.service.db.commit.run((tx) =>
      tx.run(`update payments set lease_owner = 'other', lease_expires_at = @until where id = @id`, { until: Date.now() + 60_000, id: busy }),
    );
    const all = await h.request('POST', '/v1/admin/failed-events/retry-all', { headers: admin });
    expect(all.status).toBe(200);
    expect(all.body.retried).toBe(1);
    expect(all.body.data).toMatchObject([{ paymentId: free, status: 'retried' }]);
    const [busyDead] = await failedEvents(busy);
    expect(all.body.failed).toEqual([{ id: busyDead!.id, code: 'payment_busy', detail: expect.any(String) }]);
    expect((await h.settled(free)).status).toBe('cancelled');
    expect(busyDead).toMatchObject({ status: 'open' });
  });
});

describe('the PG settles what waits on an operator', () => {
  it('takes the PG’s word when a refund handed to an operator is made at the PG after all (webhook)', async () => {
    await setUp();
    h.mock.setWebhookUrl(`${h.url}/v1/pg/webhooks`);
    const id = await refundDeadLetter();
    // Someone refunds it at the PG (its console, a call of its own): the PG announces it.
    const landed = await request(`${h.config.PG_BASE_URL}/payments/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `PortOne ${PG_SECRET}`, 'content-type': 'application/json', 'idempotency-key': `${id}:cancel:1` },
      body: JSON.stringify({ reason: 'customer left' }),
    });
    expect(landed.statusCode).toBe(200);
    await landed.body.dump();
    const ended = await eventually(async () => {
      const now = (await h.request('GET', `/v1/payments/${id}`)).body;
      return now.status === 'cancelled' && now;
    });
    expect(ended).toMatchObject({ cancelledAmount: 30_000, failureCode: null });
    expect(await stock()).toBe(5);
    expect(await failedEvents(id)).toMatchObject([{ status: 'resolved', resolvedBy: 'pg' }]);
    const [cancellation] = (await h.request('GET', `/v1/payments/${id}/cancellations`)).body.data;
    expect(cancellation.status).toBe('succeeded');
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 30_000 });
  });

  it('ends a refund held at the PG past the deadline as refunded, not for an operator, and refunds once', async () => {
    await setUp();
    const id = await completedPayment('k-held', 'bk_card_real');
    // Every cancel is now held 1.5 s at the PG, past the service's 1 s deadline, then done.
    h.mock.setChaos({ delayRate: 1, delayMs: 1_500, failureRate: 0 });
    await h.request('POST', `/v1/payments/${id}/cancel`, { body: { reason: 'late', amount: 10_000 }, headers: { 'idempotency-key': 'c-held' } });
    expect(await h.settled(id)).toMatchObject({ status: 'partially_cancelled', cancelledAmount: 10_000 });
    expect(ledgerOf(id)).toMatchObject({ status: 'PARTIAL_CANCELLED', cancelledAmount: 10_000 });
    expect(ledgerOf(id)!.cancellations).toHaveLength(1);
    expect(await failedEvents(id)).toEqual([]);
    expect((await log(id)).map((e) => e.to)).toContain('cancelling.checking');
  });
});

describe('an inquiry without end', () => {
  it('raises one warning alert when the PG keeps a charge PENDING past INQUIRY_ALERT_AFTER_MS, and keeps asking', async () => {
    await setUp({ INQUIRY_ALERT_AFTER_MS: '300', PG_TIMEOUT_MS: '200' });
    h.mock.setChaos({ delayMs: 60_000 });
    const { body } = await h.pay('k-pending', purchase('book-1', 1, 'bk_test_delay'));
    const alerts = () => h.service.db.read.all('select severity, title from alerts where payment_id = @id', { id: body.id });
    await eventually(async () => (await alerts()).length > 0);
    expect(await alerts()).toEqual([{ severity: 'warning', title: `Payment ${body.id} has no final answer from the PG yet` }]);
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body.status).toBe('processing');
    // Still asking: more lookups follow the alert, and no second alert.
    const lookups = () => h.proxy!.seen.filter((r) => r.method === 'GET' && r.path.startsWith(`/payments/${body.id}`)).length;
    const after = lookups();
    await eventually(() => lookups() > after + 2);
    expect(await alerts()).toHaveLength(1);
  });
});
