import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/alert-receiver.ts';
import { purchase, startHarness, WEBHOOK_SECRET, type Harness } from '../support/harness.ts';

let h: Harness;
afterEach(() => h.close());

async function setUp(env: Record<string, string> = {}, proxy = false) {
  h = await startHarness(env, {}, { proxy });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
}

interface Delivery {
  id?: string;
  at?: Date;
  secret?: string;
  raw?: string;
  /** Sent as the webhook-timestamp header instead of `at` in seconds. */
  timestamp?: string;
  headers?: Record<string, string>;
}

/** Posts a PortOne-style webhook, signed the Standard Webhooks way unless told otherwise. */
function deliver(payload: unknown, { id = `msg_${randomUUID()}`, at = new Date(), secret = WEBHOOK_SECRET, raw, timestamp, headers }: Delivery = {}) {
  const body = raw ?? JSON.stringify(payload);
  const signature = new Webhook(secret).sign(id, at, body);
  return h.request('POST', '/v1/pg/webhooks', {
    raw: body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': timestamp ?? String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
      ...headers,
    },
  });
}

/** PG lookups of the payment that went through the proxy. */
const lookups = (paymentId: string) =>
  h.proxy!.seen.filter((r) => r.method === 'GET' && r.path.startsWith(`/payments/${paymentId}`)).length;

const paidWebhook = (paymentId: string) => ({
  type: 'Transaction.Paid',
  timestamp: new Date().toISOString(),
  data: { paymentId, storeId: 'store-test', transactionId: 'tx' },
});
const events = async (id: string): Promise<string[]> =>
  (await h.request('GET', `/v1/payments/${id}/events`)).body.data.map((e: { type: string }) => e.type);
const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);

describe('PG webhooks', () => {
  it('accepts a valid webhook', async () => {
    await setUp();
    const { body } = await h.pay('k-1', purchase('book-1'), '?wait=10');
    const reply = await deliver(paidWebhook(body.id));
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok' });
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body.status).toBe('completed');
  });

  it('refuses a forged signature', async () => {
    await setUp();
    const forged = await deliver(paidWebhook('pay_x'), { secret: 'whsec_Zm9yZ2VkLXNlY3JldC1mb3ItdGVzdHM=' });
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('invalid_signature');
    expect(forged.headers.get('content-type')).toContain('application/problem+json');
  });

  it('refuses a webhook without signature headers', async () => {
    await setUp();
    const reply = await h.request('POST', '/v1/pg/webhooks', { body: paidWebhook('pay_x') });
    expect(reply.status).toBe(401);
    expect(reply.body.code).toBe('invalid_signature');
  });

  it('refuses a stale timestamp', async () => {
    await setUp();
    const stale = await deliver(paidWebhook('pay_x'), { at: new Date(Date.now() - 6 * 60_000) });
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('invalid_signature');
  });

  it('refuses a signed body that is not a webhook', async () => {
    await setUp();
    expect((await deliver(undefined, { raw: '{"type": ' })).body.code).toBe('invalid_body');
    const wrongShape = await deliver({ data: 42 });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.body.code).toBe('invalid_body');
  });

  it('does nothing twice for a repeated webhook id', async () => {
    await setUp();
    const { body } = await h.pay('k-dup', purchase('book-1'), '?wait=10');
    const first = await deliver(paidWebhook(body.id), { id: 'msg_same' });
    const again = await deliver(paidWebhook(body.id), { id: 'msg_same' });
    expect(first.body).toEqual({ status: 'ok' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ status: 'duplicate' });
  });

  it('lets exactly one of 20 copies sent at once act: one PG lookup; the others are told to come back', async () => {
    await setUp({}, true);
    const { body } = await h.pay('k-storm', purchase('book-1'), '?wait=10');
    const before = lookups(body.id);
    const replies = await Promise.all(Array.from({ length: 20 }, () => deliver(paidWebhook(body.id), { id: 'msg_storm' })));
    expect(replies.filter((r) => r.body.status === 'ok')).toHaveLength(1);
    // The rest arrived while it was handled (409, not a success: it might still fail) or after (a duplicate).
    for (const reply of replies.filter((r) => r.body.status !== 'ok')) {
      expect([reply.status, reply.body.code ?? reply.body.status]).toEqual(
        reply.status === 409 ? [409, 'webhook_in_progress'] : [200, 'duplicate'],
      );
    }
    expect(lookups(body.id) - before).toBe(1);
    const later = await deliver(paidWebhook(body.id), { id: 'msg_storm' });
    expect([later.status, later.body.status]).toEqual([200, 'duplicate']);
  });

  it('answers a copy 409 while another holds the claim, and acts once a dead process’s claim expired', async () => {
    await setUp();
    const { body } = await h.pay('k-claimed', purchase('book-1'), '?wait=10');
    const write = (sql: string, params: Record<string, unknown>) => h.service.db.commit.run((tx) => tx.run(sql, params));
    // A copy was claimed by a process that died before it acted.
    await write(
      `insert into webhook_receipts (id, type, payment_id, received_at, status, claimed_until)
      values ('msg_orphan', 'Transaction.Paid', @paymentId, 0, 'processing', @until)`,
      { paymentId: body.id, until: Date.now() + 60_000 },
    );
    const held = await deliver(paidWebhook(body.id), { id: 'msg_orphan' });
    expect(held.status).toBe(409);
    expect(held.body.code).toBe('webhook_in_progress');
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(0);
    await write(`update webhook_receipts set claimed_until = @until where id = 'msg_orphan'`, { until: Date.now() - 1 });
    const retried = await deliver(paidWebhook(body.id), { id: 'msg_orphan' });
    expect([retried.status, retried.body.status]).toEqual([200, 'ok']);
  });

  it('refuses a webhook-timestamp with trailing junk, even when the signature matches its number', async () => {
    await setUp();
    const at = new Date();
    const junk = await deliver(paidWebhook('pay_x'), { at, timestamp: `${Math.floor(at.getTime() / 1000)}abc` });
    expect(junk.status).toBe(401);
    expect(junk.body.code).toBe('invalid_signature');
    const spaced = await deliver(paidWebhook('pay_x'), { at, timestamp: ` ${Math.floor(at.getTime() / 1000)}.0` });
    expect(spaced.status).toBe(401);
  });

  it('answers 503 when the PG does not answer the lookup, and lets the PG’s next copy act', async () => {
    await setUp({}, true);
    const { body } = await h.pay('k-lookup-lost', purchase('book-1'), '?wait=10');
    h.proxy!.dropNext('GET', new RegExp(`^/payments/${body.id}`));
    const first = await deliver(paidWebhook(body.id), { id: 'msg_retry_me' });
    expect(first.status).toBe(503);
    expect(first.body.code).toBe('pg_unavailable');
    const again = await deliver(paidWebhook(body.id), { id: 'msg_retry_me' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ status: 'ok' });
  });

  it('refuses a compressed webhook body: its signature covers the bytes as sent', async () => {
    await setUp();
    const reply = await deliver(paidWebhook('pay_x'), { headers: { 'content-encoding': 'gzip' } });
    expect(reply.status).toBe(415);
    expect(reply.body.code).toBe('unsupported_encoding');
  });

  it('accepts and ignores unknown types and unknown payments', async () => {
    await setUp();
    const unknownType = await deliver({ type: 'BillingKey.Issued', timestamp: new Date().toISOString(), data: { billingKey: 'x' } });
    expect(unknownType.status).toBe(200);
    const unknownPayment = await deliver(paidWebhook('pay_not_ours'));
    expect(unknownPayment.status).toBe(200);
  });

  it('wakes a payment hibernating in inquiry when the PG says it is paid', async () => {
    // Backoff so long that only the webhook can finish the payment within the test.
    await setUp({ RETRY_BASE_MS: '3600000', RETRY_CAP_MS: '3600000' });
    h.mock.setChaos({ delayMs: 1_500 });
    h.mock.setWebhookUrl(`${h.url}/v1/pg/webhooks`);
    const { body } = await h.pay('k-hibernating', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(async () => (await events(body.id)).includes('xstate.done.actor.inquirePgStatus'));
    await eventually(() => !h.service.host.isLive(body.id));
    const settled = await h.settled(body.id, 10_000);
    expect(settled.status).toBe('completed');
    expect(await events(body.id)).toContain('pg.status');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('never charges twice when a webhook arrives while the charge call is pending', async () => {
    await setUp({ PG_TIMEOUT_MS: '5000' });
    h.mock.setChaos({ delayMs: 1_500 });
    const { body } = await h.pay('k-racing', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(async () => (await events(body.id)).length >= 2);
    // The PG still reads PENDING: the actor keeps waiting for its own call.
    const early = await deliver(paidWebhook(body.id));
    expect(early.status).toBe(200);
    const settled = await h.settled(body.id, 10_000);
    expect(settled.status).toBe('completed');
    // Late and repeated deliveries change nothing.
    await deliver(paidWebhook(body.id));
    await deliver({ ...paidWebhook(body.id), type: 'Transaction.Failed' });
    expect((await h.request('GET', `/v1/payments/${body.id}`)).body.status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(4);
  });
});
