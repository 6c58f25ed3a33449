import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startAlertReceiver, type AlertReceiver } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
let receiver: AlertReceiver | undefined;
afterEach(async () => {
  await h.close();
  await receiver?.close();
  receiver = undefined;
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function setUp(env: Record<string, string> = {}, proxy = false) {
  h = await startHarness(env, {}, { proxy });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
}

async function completedPayment(key = 'k-buy'): Promise<string> {
  const { body } = await h.pay(key, purchase('book-1', 2), '?wait=10');
  expect(body.status).toBe('completed');
  return body.id;
}

const cancel = (id: string, key: string, body: unknown) =>
  h.request('POST', `/v1/payments/${id}/cancel`, { body, headers: { 'idempotency-key': key } });
const stock = async () => (await h.request('GET', '/v1/products/book-1')).body.stock as number;
const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);
const cancellations = async (id: string) => (await h.request('GET', `/v1/payments/${id}/cancellations`)).body.data;
const events = async (id: string) => (await h.request('GET', `/v1/payments/${id}/events`)).body.data as Array<Record<string, any>>;

/** From now on the card issuer refuses every refund for good (400 PG_PROVIDER), until `refuse(false)`. */
const refuseRefunds = (refuse = true) => h.mock.setChaos({ cancelRefusalRate: refuse ? 1 : 0 });

async function deadLetter(id: string) {
  const reply = await cancel(id, 'c-dead', { reason: 'customer left' });
  expect(reply.status).toBe(202);
  const settled = await h.settled(id);
  expect(settled).toMatchObject({ status: 'requires_attention', failureCode: 'compensation_failed' });
  const open = await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin });
  expect(open.body.data).toHaveLength(1);
  return open.body.data[0];
}

describe('refunds', () => {
  it('answers a cancel once the refund settles when asked to wait', async () => {
    await setUp();
    const id = await completedPayment('k-wait');
    const reply = await h.request('POST', `/v1/payments/${id}/cancel?wait=10`, { body: { reason: 'no longer needed' }, headers: { 'idempotency-key': 'c-wait' } });
    expect(reply.status).toBe(202);
    expect(reply.body).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000 });
    const bad = await h.request('POST', `/v1/payments/${id}/cancel?wait=31`, { body: { reason: 'x' }, headers: { 'idempotency-key': 'c-wait-2' } });
    expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
  });

  it('cancels in full: money back, stock back', async () => {
    await setUp();
    const id = await completedPayment();
    expect(await stock()).toBe(3);
    const reply = await cancel(id, 'c-full', { reason: 'changed my mind' });
    expect(reply.status).toBe(202);
    expect(reply.body.status).toBe('cancel_requested');
    const settled = await h.settled(id);
    expect(settled).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000, failureCode: null });
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 30_000, charges: 1 });
    expect(await stock()).toBe(5);
    expect(await cancellations(id)).toMatchObject([{ amount: 30_000, status: 'succeeded', attempts: [{ outcome: 'succeeded' }] }]);
  });

  it('cancels partially down to zero, returning stock only at the end', async () => {
    await setUp();
    const id = await completedPayment();
    await cancel(id, 'c-part-1', { reason: 'one damaged', amount: 10_000 });
    expect(await h.settled(id)).toMatchObject({ status: 'partially_cancelled', cancelledAmount: 10_000 });
    expect(ledgerOf(id)).toMatchObject({ status: 'PARTIAL_CANCELLED', cancelledAmount: 10_000 });
    expect(await stock()).toBe(3);

    const tooMuch = await cancel(id, 'c-part-x', { reason: 'all of it', amount: 20_001 });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body.code).toBe('amount_exceeds_cancellable');

    await cancel(id, 'c-part-2', { reason: 'the rest', amount: 5_000 });
    expect(await h.settled(id)).toMatchObject({ status: 'partially_cancelled', cancelledAmount: 15_000 });
    await cancel(id, 'c-part-3', { reason: 'the rest' });
    expect(await h.settled(id)).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000 });
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 30_000 });
    expect(await stock()).toBe(5);
    expect((await cancellations(id)).map((c: { amount: number }) => c.amount)).toEqual([10_000, 5_000, 15_000]);
  });

  it('refuses to cancel a payment that is not completed', async () => {
    await setUp();
    const { body } = await h.pay('k-declined', purchase('book-1', 1, 'bk_test_decline'), '?wait=10');
    const reply = await cancel(body.id, 'c-wrong', { reason: 'x' });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe('invalid_state');
    expect(reply.headers.get('content-type')).toContain('application/problem+json');
    const id = await completedPayment();
    await cancel(id, 'c-1', { reason: 'x' });
    await h.settled(id);
    expect((await cancel(id, 'c-2', { reason: 'again' })).body.code).toBe('invalid_state');
  });

  it('refuses more than the payment holds', async () => {
    await setUp();
    const id = await completedPayment();
    const reply = await cancel(id, 'c-big', { reason: 'x', amount: 30_001 });
    expect(reply.status).toBe(422);
    expect(reply.body.code).toBe('amount_exceeds_cancellable');
    expect((await h.request('GET', `/v1/payments/${id}`)).body.status).toBe('completed');
  });

  it('replays a cancel with the same key and refuses the key with another body', async () => {
    await setUp();
    const id = await completedPayment();
    const first = await cancel(id, 'c-replay', { reason: 'x', amount: 1_000 });
    await h.settled(id);
    const again = await cancel(id, 'c-replay', { reason: 'x', amount: 1_000 });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ id, status: 'partially_cancelled', cancelledAmount: 1_000 });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(ledgerOf(id)).toMatchObject({ cancelledAmount: 1_000 });
    const reused = await cancel(id, 'c-replay', { reason: 'x', amount: 2_000 });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
  });

  it('validates the cancel request', async () => {
    await setUp();
    const id = await completedPayment();
    expect((await h.request('POST', `/v1/payments/${id}/cancel`, { body: { reason: 'x' } })).body.code).toBe('idempotency_key_required');
    const zero = await cancel(id, 'c-zero', { reason: 'x', amount: 0 });
    expect(zero.status).toBe(400);
    expect(zero.body.code).toBe('validation_failed');
    expect((await cancel(id, 'c-noreason', {})).body.errors).toEqual([expect.objectContaining({ path: 'reason' })]);
    expect((await cancel('pay_nope', 'c-404', { reason: 'x' })).status).toBe(404);
  });

  it('retries a cancel that failed transiently and records the failure', async () => {
    await setUp({}, true);
    const id = await completedPayment();
    h.proxy!.dropNext('POST', /\/cancel$/, 1);
    await cancel(id, 'c-flaky', { reason: 'x' });
    expect((await h.settled(id)).status).toBe('cancelled');
    const [record] = await cancellations(id);
    expect(record.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['transient', 'succeeded']);
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 30_000 });
  });

  it('confirms a refund that got no answer by asking the PG, without cancelling twice', async () => {
    await setUp();
    const { body } = await h.pay('k-live-card', purchase('book-1', 2, 'bk_card_live'), '?wait=10');
    expect(body.status).toBe('completed');
    // Every cancel now lands at the PG and then answers 5xx or resets.
    h.mock.setChaos({ failureRate: 1, ambiguousRate: 1 });
    await cancel(body.id, 'c-ambiguous', { reason: 'x', amount: 10_000 });
    expect(await h.settled(body.id)).toMatchObject({ status: 'partially_cancelled', cancelledAmount: 10_000 });
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PARTIAL_CANCELLED', cancelledAmount: 10_000 });
    const [record] = await cancellations(body.id);
    expect(record.attempts).toHaveLength(1);
    expect(record.attempts[0]).toMatchObject({ outcome: 'succeeded' });
    expect(record.attempts[0].message).toBeTruthy();
  });
});

describe('refund dead letters', () => {
  it('hands a refund the PG refuses to an operator at once: dead letter and urgent alert', async () => {
    receiver = await startAlertReceiver();
    await setUp({ ALERT_WEBHOOK_URL: receiver.url, ALERT_POLL_MS: '20' });
    const id = await completedPayment();
    refuseRefunds();
    const dead = await deadLetter(id);
    expect(dead).toMatchObject({ paymentId: id, step: 'refunding', status: 'open', reason: 'pg_refused:PG_PROVIDER' });
    const [record] = await cancellations(id);
    expect(record.status).toBe('failed');
    expect(record.attempts).toMatchObject([{ outcome: 'permanent', pgCode: 'PG_PROVIDER' }]);
    const alert = await eventually(() => receiver!.received.find((a) => a.paymentId === id));
    expect(alert.severity).toBe('urgent');
    // Dead letters are never retried automatically: nothing is scheduled to wake the payment.
    await h.service.host.committed();
    const row = await h.service.db.read.get('select due_at, active, lease_owner from payments where id = @id', { id });
    expect(row).toEqual({ due_at: null, active: 0, lease_owner: null });
    expect(h.service.host.isLive(id)).toBe(false);
    expect(ledgerOf(id)).toMatchObject({ status: 'PAID', cancelledAmount: 0 });
  });

  it('keeps sending a refund the PG never receives, asking the PG first each time, until it lands', async () => {
    await setUp({}, true);
    const id = await completedPayment();
    h.proxy!.dropNext('POST', /\/cancel$/, 3);
    await cancel(id, 'c-lost', { reason: 'x' });
    expect(await h.settled(id)).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000 });
    const [record] = await cancellations(id);
    expect(record.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['transient', 'transient', 'transient', 'succeeded']);
    expect(ledgerOf(id)!.cancellations).toHaveLength(1);
    expect(await h.request('GET', '/v1/admin/failed-events', { headers: admin })).toMatchObject({ body: { data: [] } });
    // Before each resend the PG was asked what it had cancelled.
    const calls = h.proxy!.seen
      .filter((r) => r.method === 'GET' ? r.path.startsWith(`/payments/${id}`) : r.path === `/payments/${id}/cancel`)
      .map((r) => (r.method === 'GET' ? 'ask' : 'send'));
    const sends = calls.flatMap((call, i) => (call === 'send' ? [i] : []));
    expect(sends).toHaveLength(4);
    for (const i of sends.slice(1)) expect(calls[i - 1]).toBe('ask');
  });

  it('lets an operator retry a dead letter, which then succeeds', async () => {
    await setUp();
    const id = await completedPayment();
    refuseRefunds();
    const dead = await deadLetter(id);
    refuseRefunds(false);
    const retried = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, {
      body: { reason: 'PG is back' },
      headers: { ...admin, 'x-admin-actor': 'kim@ops' },
    });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: dead.id, status: 'retried', resolvedBy: 'kim@ops', note: 'PG is back' });
    expect(await h.settled(id)).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000, failureCode: null });
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED' });
    expect(await stock()).toBe(5);
    const logged = (await events(id)).find((e) => e.type === 'admin.retry');
    expect(logged).toMatchObject({ from: 'requires_attention', to: 'cancelling.refunding', detail: { actor: 'kim@ops', reason: 'PG is back', failedEventId: dead.id } });
    const again = await h.request('POST', `/v1/admin/failed-events/${dead.id}/retry`, { headers: admin });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('invalid_state');
  });

  it('lets an operator ignore a dead letter with a reason', async () => {
    await setUp();
    const id = await completedPayment();
    refuseRefunds();
    const dead = await deadLetter(id);
    const noReason = await h.request('POST', `/v1/admin/failed-events/${dead.id}/ignore`, { body: {}, headers: admin });
    expect(noReason.status).toBe(400);
    const ignored = await h.request('POST', `/v1/admin/failed-events/${dead.id}/ignore`, { body: { reason: 'refunded by bank transfer' }, headers: admin });
    expect(ignored.body).toMatchObject({ status: 'ignored', resolvedBy: 'admin', note: 'refunded by bank transfer' });
    expect((await h.request('GET', `/v1/payments/${id}`)).body.status).toBe('requires_attention');
    const logged = (await events(id)).find((e) => e.type === 'admin.ignore');
    expect(logged).toMatchObject({ from: 'requires_attention', to: 'requires_attention', detail: { actor: 'admin', reason: 'refunded by bank transfer' } });
    expect((await h.request('GET', '/v1/admin/failed-events?status=ignored', { headers: admin })).body.data).toHaveLength(1);
  });

  it('retries every open dead letter at once', async () => {
    await setUp();
    const first = await completedPayment('k-a');
    const second = await completedPayment('k-b');
    refuseRefunds();
    await cancel(first, 'c-a', { reason: 'x' });
    await cancel(second, 'c-b', { reason: 'x' });
    expect((await h.settled(first)).status).toBe('requires_attention');
    expect((await h.settled(second)).status).toBe('requires_attention');
    refuseRefunds(false);
    const all = await h.request('POST', '/v1/admin/failed-events/retry-all', { headers: admin });
    expect(all.status).toBe(200);
    expect(all.body.retried).toBe(2);
    expect((await h.settled(first)).status).toBe('cancelled');
    expect((await h.settled(second)).status).toBe('cancelled');
    expect((await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin })).body.data).toEqual([]);
  });

  it('refuses admin calls without the right token and changes nothing', async () => {
    await setUp();
    const id = await completedPayment();
    refuseRefunds();
    const dead = await deadLetter(id);
    refuseRefunds(false);
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: ADMIN_TOKEN }];
    for (const headers of attempts) {
      for (const [method, path] of [
        ['GET', '/v1/admin/failed-events'],
        ['POST', `/v1/admin/failed-events/${dead.id}/retry`],
        ['POST', '/v1/admin/failed-events/retry-all'],
        ['POST', `/v1/admin/failed-events/${dead.id}/ignore`],
        ['POST', '/v1/admin/reconcile'],
      ] as const) {
        const reply = await h.request(method, path, { body: method === 'POST' ? { reason: 'x' } : undefined, headers });
        expect(reply.status).toBe(401);
        expect(reply.body.code).toBe('unauthorized');
      }
    }
    const open = await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin });
    expect(open.body.data).toMatchObject([{ id: dead.id, status: 'open' }]);
    expect((await h.request('GET', `/v1/payments/${id}`)).body.status).toBe('requires_attention');
  });
});
