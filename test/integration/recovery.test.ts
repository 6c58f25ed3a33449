import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startAlertReceiver, type AlertReceiver } from '../support/alert-receiver.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';
import { refuseWrites } from '../support/refuse-writes.ts';

let h: Harness;
let receiver: AlertReceiver | undefined;
afterEach(async () => {
  await h.close();
  await receiver?.close();
  receiver = undefined;
});

async function setUp(env: Record<string, string> = {}, proxy = false) {
  h = await startHarness(env, {}, { proxy });
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
}

/** Makes a database step fail for real: the database refuses the write. */
const breakTable = (event: 'INSERT' | 'UPDATE', table: string) => refuseWrites(h.service.db, { table, event, message: `${table} is offline` });

const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);
const states = async (id: string): Promise<string[]> =>
  (await h.request('GET', `/v1/payments/${id}/events`)).body.data.map((e: { to: string }) => e.to);
const stock = async () => (await h.request('GET', '/v1/products/book-1')).body.stock as number;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('unknown outcomes', () => {
  it('releases the stock when a timed-out charge turns out FAILED', async () => {
    await setUp();
    h.mock.setChaos({ delayRate: 1, delayMs: 1_500, failureRate: 1, ambiguousRate: 0 });
    const { body } = await h.pay('k-timeout-failed', purchase('book-1', 1, 'bk_card_real'));
    const settled = await h.settled(body.id);
    expect(settled).toMatchObject({ status: 'failed', failureCode: 'charge_failed' });
    expect(ledgerOf(body.id)).toMatchObject({ status: 'FAILED', charges: 0 });
    expect(await states(body.id)).toContain('inquiring.waiting');
    expect(await stock()).toBe(5);
  });

  it('charges again with the same payment id when the first charge never reached the PG', async () => {
    await setUp({}, true);
    h.proxy!.dropNext('POST', /\/billing-key$/);
    const { body } = await h.pay('k-lost', purchase('book-1'));
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    expect((await states(body.id)).filter((s) => s === 'charging.calling')).toHaveLength(2);
  });
});

describe('compensation', () => {
  it('voids the charge and returns the stock when fulfilment keeps failing', async () => {
    await setUp();
    await breakTable('INSERT', 'fulfilments');
    const { body } = await h.pay('k-unfulfillable', purchase('book-1', 2));
    const settled = await h.settled(body.id);
    expect(settled).toMatchObject({ status: 'cancelled', failureCode: 'fulfilment_failed', cancelledAmount: 30_000 });
    expect(ledgerOf(body.id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 30_000, charges: 1 });
    expect(await stock()).toBe(5);
    const path = await states(body.id);
    expect(path.filter((s) => s === 'finalizing.waiting')).toHaveLength(h.config.STEP_RETRIES);
    expect(path.slice(-3)).toEqual(['compensating.voiding', 'releasing.releasingStock', 'cancelled']);
  });

  it('needs an operator, writes a dead letter and delivers an alert when the void fails', async () => {
    receiver = await startAlertReceiver();
    receiver.failNext(1);
    await setUp({ ALERT_WEBHOOK_URL: receiver.url, ALERT_POLL_MS: '20' }, true);
    await breakTable('INSERT', 'fulfilments');
    h.proxy!.dropNext('POST', /\/cancel$/, 100);
    const { body } = await h.pay('k-void-fails', purchase('book-1', 2));
    const settled = await h.settled(body.id);
    expect(settled).toMatchObject({ status: 'requires_attention', failureCode: 'compensation_failed' });
    // The customer was charged and not refunded: the stock stays with the payment.
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID' });
    expect(await stock()).toBe(3);

    const dead = await h.request('GET', '/v1/admin/failed-events?status=open', { headers: admin });
    expect(dead.body.data).toHaveLength(1);
    expect(dead.body.data[0]).toMatchObject({ paymentId: body.id, step: 'voiding', status: 'open' });
    expect(dead.body.data[0].reason).toMatch(/^pg_no_answer:/);

    const alert = await eventually(() => receiver!.received[0]);
    expect(alert).toMatchObject({ severity: 'urgent', paymentId: body.id });
    expect(String(alert.text)).toContain(body.id);
    expect(receiver.received).toHaveLength(1);
  });

  it('needs an operator when the stock cannot be released, keeping it reserved', async () => {
    await setUp();
    await breakTable('UPDATE', 'stock_reservations');
    const { body } = await h.pay('k-release-fails', purchase('book-1', 1, 'bk_test_decline'));
    const settled = await h.settled(body.id);
    expect(settled).toMatchObject({ status: 'requires_attention', failureCode: 'compensation_failed' });
    expect(await stock()).toBe(4);
    const dead = await h.request('GET', '/v1/admin/failed-events', { headers: admin });
    expect(dead.body.data).toMatchObject([{ paymentId: body.id, step: 'releasing', status: 'open' }]);
    expect(dead.body.data[0].reason).toContain('stock_reservations is offline');
    // Without ALERT_WEBHOOK_URL the alert is logged, and so counts as delivered.
    const alert = await eventually(() =>
      h.service.db.read.get('select * from alerts where payment_id = @id and delivered_at is not null', { id: body.id }),
    );
    expect(alert).toMatchObject({ severity: 'urgent' });
  });
});

describe('durable waits and restarts', () => {
  it('hibernates a waiting payment and wakes it with its timer', async () => {
    await setUp();
    h.mock.setChaos({ delayMs: 1_500 });
    const { body } = await h.pay('k-hibernate', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(async () => (await states(body.id)).includes('inquiring.waiting'));
    await eventually(() => !h.service.host.isLive(body.id));
    const row = (await h.service.db.read.get('select due_at, lease_owner from payments where id = @id', { id: body.id })) as {
      due_at: number | null;
      lease_owner: string | null;
    };
    expect(row.due_at).toBeTypeOf('number');
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ charges: 1 });
  });

  it('finishes an in-flight charge after a restart by asking the PG, not charging again', async () => {
    await setUp();
    h.mock.setChaos({ delayMs: 1_500 });
    const { body } = await h.pay('k-restart', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(async () => (await states(body.id)).includes('charging.calling'));
    await h.restart();
    expect((await h.settled(body.id)).status).toBe('completed');
    const path = await states(body.id);
    expect(path.slice(path.indexOf('charging.calling'), path.indexOf('charging.calling') + 2)).toEqual(['charging.calling', 'inquiring.checking']);
    expect(ledgerOf(body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    expect(await stock()).toBe(4);
  });

  it('runs a reconciler pass on demand for an admin only', async () => {
    await setUp();
    const denied = await h.request('POST', '/v1/admin/reconcile');
    expect(denied.status).toBe(401);
    const pass = await h.request('POST', '/v1/admin/reconcile', { headers: admin });
    expect(pass.status).toBe(200);
    expect(pass.body).toEqual({ scanned: 0, resumed: 0 });
  });

  it('lets only the lease holder run a payment when two services share the database', async () => {
    await setUp();
    h.mock.setChaos({ delayMs: 1_000 });
    const other = await h.startPeer('second-process');
    const { body } = await h.pay('k-lease', purchase('book-1', 1, 'bk_test_delay'));
    await eventually(async () => (await states(body.id)).includes('charging.calling'));
    expect(await other.host.resume(body.id)).toBe(false);
    expect(other.host.isLive(body.id)).toBe(false);
    expect((await h.settled(body.id)).status).toBe('completed');
    expect(ledgerOf(body.id)).toMatchObject({ charges: 1 });
  });
});

describe('leases within one process', () => {
  it('keeps the lease of a payment woken again while the release of its lease is queued', async () => {
    await setUp();
    const { body } = await h.pay('k-wake-again', purchase('book-1'), '?wait=10');
    expect(body.status).toBe('completed');
    const host = h.service.host;
    // Each commit of a resting actor evicts it and queues the release of its lease; waking
    // it again before that release runs must not lose the lease (a lost lease drops writes).
    for (let i = 0; i < 5; i++) {
      expect(await host.resume(body.id)).toBe(true);
      await host.committed();
    }
    expect(await host.offer(body.id, { type: 'api.cancel', id: 'can_race', amount: 15_000, reason: 'race', idempotencyKey: 'c-race', fingerprint: 'f' })).toBe('accepted');
    // offer() answers once the event is taken; its write (cancel_requested) is committed after.
    await host.committed();
    expect((await h.settled(body.id)).status).toBe('cancelled');
    expect(ledgerOf(body.id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 15_000 });
    const metrics = await h.request('GET', '/metrics');
    expect(metrics.body).toContain('paystate_snapshot_write_failures 0');
  });
});
