import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testDialect } from '../support/test-database.ts';
import { purchase, startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.createProduct({ id: 'book-1', price: 15_000, stock: 5 });
});
afterEach(() => h.close());

const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);

describe('purchase saga', () => {
  it('completes a paid purchase: stock taken, order fulfilled, PG charged once', async () => {
    const created = await h.pay('k-happy', purchase('book-1', 2), '?wait=10');
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      status: 'completed',
      state: 'completed',
      amount: 30_000,
      cancelledAmount: 0,
      currency: 'KRW',
      customerId: 'c-1',
      partnerId: 'partner-1',
      items: [{ productId: 'book-1', quantity: 2, unitPrice: 15_000 }],
      failureCode: null,
    });
    expect(created.body.id).toMatch(/^pay_/);

    const product = await h.request('GET', '/v1/products/book-1');
    expect(product.body.stock).toBe(3);
    expect(ledgerOf(created.body.id)).toMatchObject({ status: 'PAID', paidAmount: 30_000, charges: 1 });

    const events = await h.request('GET', `/v1/payments/${created.body.id}/events`);
    expect(events.body.data.map((e: { to: string }) => e.to)).toEqual([
      'reserving.reservingStock',
      'charging.calling',
      'finalizing.fulfilling',
      'completed',
    ]);
    expect(events.body.data[0]).toMatchObject({ seq: 1, type: 'api.create', from: null });
    expect(events.body.data.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3, 4]);

    const fulfilled = await h.service.db.read.get('select count(*) as n from fulfilments where payment_id = @id', { id: created.body.id });
    expect(fulfilled).toEqual({ n: 1 });
  });

  it('answers 202 at once while the payment is still processing', async () => {
    const created = await h.pay('k-nowait', purchase('book-1'));
    expect(created.status).toBe(202);
    // The row the create committed, as stored: the later GET differs only in what the saga changed.
    expect(created.body).toMatchObject({ status: 'processing', state: 'reserving', updatedAt: created.body.createdAt });
    expect(created.headers.get('location')).toBe(`/v1/payments/${created.body.id}`);
    expect((await h.settled(created.body.id)).status).toBe('completed');
    const stored = (await h.request('GET', `/v1/payments/${created.body.id}`)).body;
    expect({ ...stored, status: 'processing', state: 'reserving', updatedAt: stored.createdAt }).toEqual(created.body);
  });

  it('fails a declined card and gives the stock back', async () => {
    const created = await h.pay('k-decline', purchase('book-1', 2, 'bk_test_decline'), '?wait=10');
    expect(created.body).toMatchObject({ status: 'failed', failureCode: 'card_declined' });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(5);
    expect(ledgerOf(created.body.id)).toMatchObject({ status: 'FAILED', charges: 0 });
  });

  it('fails a billing key the PG does not know', async () => {
    const created = await h.pay('k-missing', purchase('book-1', 1, 'bk_test_missing'), '?wait=10');
    expect(created.body).toMatchObject({ status: 'failed', failureCode: 'billing_key_not_found' });
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(5);
  });

  it('rejects a purchase beyond the stock without calling the PG', async () => {
    const created = await h.pay('k-oos', purchase('book-1', 6), '?wait=10');
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ status: 'rejected', state: 'rejected', failureCode: 'out_of_stock' });
    expect(ledgerOf(created.body.id)).toBeUndefined();
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(5);
  });

  it('completes through inquiry when the PG charged but answered 5xx', async () => {
    const created = await h.pay('k-ambiguous', purchase('book-1', 1, 'bk_test_ambiguous'), '?wait=10');
    expect(created.body.status).toBe('completed');
    expect(ledgerOf(created.body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    const events = await h.request('GET', `/v1/payments/${created.body.id}/events`);
    const states = events.body.data.map((e: { to: string }) => e.to);
    expect(states).toContain('inquiring.checking');
    expect(states.at(-1)).toBe('completed');
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(4);
  });

  it('fails through inquiry when the PG never charged: charges again, then releases', async () => {
    const created = await h.pay('k-error', purchase('book-1', 1, 'bk_test_error'), '?wait=15');
    expect(created.body).toMatchObject({ status: 'failed', failureCode: 'charge_not_received' });
    expect(ledgerOf(created.body.id)).toBeUndefined();
    expect((await h.request('GET', '/v1/products/book-1')).body.stock).toBe(5);
    const events = await h.request('GET', `/v1/payments/${created.body.id}/events`);
    const charges = events.body.data.filter((e: { to: string }) => e.to === 'charging.calling');
    expect(charges).toHaveLength(h.config.MAX_CHARGE_ATTEMPTS);
  });

  it('completes a charge the PG answers only after the client timeout', async () => {
    h.mock.setChaos({ delayMs: 1_500 });
    const created = await h.pay('k-delay', purchase('book-1', 1, 'bk_test_delay'));
    const settled = await h.settled(created.body.id);
    expect(settled.status).toBe('completed');
    expect(ledgerOf(created.body.id)).toMatchObject({ status: 'PAID', charges: 1 });
    const events = await h.request('GET', `/v1/payments/${created.body.id}/events`);
    expect(events.body.data.map((e: { to: string }) => e.to)).toContain('inquiring.waiting');
  });

  it('lists payments newest first with a cursor and filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const customer = i % 2 === 0 ? 'even' : 'odd';
      const { body } = await h.pay(`k-list-${i}`, purchase('book-1', 1, 'bk_test_ok', customer), '?wait=10');
      ids.push(body.id);
    }
    const first = await h.request('GET', '/v1/payments?limit=2');
    expect(first.body.data.map((p: { id: string }) => p.id)).toEqual([ids[4], ids[3]]);
    const second = await h.request('GET', `/v1/payments?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.data.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
    const third = await h.request('GET', `/v1/payments?limit=2&cursor=${second.body.nextCursor}`);
    expect(third.body.data.map((p: { id: string }) => p.id)).toEqual([ids[0]]);
    expect(third.body.nextCursor).toBeNull();

    const even = await h.request('GET', '/v1/payments?customerId=even');
    expect(even.body.data.map((p: { id: string }) => p.id)).toEqual([ids[4], ids[2], ids[0]]);
    const rejected = await h.request('GET', '/v1/payments?status=rejected');
    expect(rejected.body.data).toEqual([]);
  });

  it('exposes payments by status and PG calls in /metrics', async () => {
    await h.pay('k-metrics', purchase('book-1'), '?wait=10');
    const metrics = await h.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('paystate_payments{status="completed"} 1');
    expect(metrics.body).toMatch(/paystate_pg_calls_total\{operation="charge",outcome="200"\} 1/);
    expect(metrics.body).toContain('paystate_pg_call_seconds_bucket');
  });

  it('reports health and readiness', async () => {
    expect((await h.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await h.request('GET', '/readyz')).status).toBe(200);
  });

  it('runs on the database of its test project', () => {
    expect(h.service.db.dialect).toBe(testDialect);
  });
});
