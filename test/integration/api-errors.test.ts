import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, purchase, startHarness, type Harness, type Reply } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.createProduct({ id: 'seat-1', price: 50_000, stock: 10, partnerId: 'academy' });
  await h.createProduct({ id: 'book-9', price: 9_000, stock: 10, partnerId: 'bookstore' });
});
afterAll(() => h.close());

function expectProblem(reply: Reply, status: number, code: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toContain('application/problem+json');
  expect(reply.body).toMatchObject({ status, code });
  expect(typeof reply.body.title).toBe('string');
  expect(typeof reply.body.type).toBe('string');
  expect(typeof reply.body.detail).toBe('string');
  expect(Array.isArray(reply.body.errors)).toBe(true);
  expect(reply.headers.get('x-request-id')).toBeTruthy();
}

describe('idempotency', () => {
  it('replays the same key and body without a second payment', async () => {
    const first = await h.pay('k-replay', purchase('seat-1'), '?wait=10');
    const again = await h.pay('k-replay', purchase('seat-1'));
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.status).toBe('completed');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(h.mock.ledger().filter((e) => e.paymentId === first.body.id)).toHaveLength(1);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    const first = await h.pay('k-order', { billingKey: 'bk_test_ok', items: [{ quantity: 1, productId: 'seat-1' }], customerId: 'c-1' });
    const again = await h.pay('k-order', purchase('seat-1'));
    expect(again.body.id).toBe(first.body.id);
  });

  it('refuses the same key with a different body', async () => {
    await h.pay('k-reuse', purchase('seat-1'));
    expectProblem(await h.pay('k-reuse', purchase('seat-1', 2)), 422, 'idempotency_key_reused');
  });

  it('makes one payment when two requests race with one key', async () => {
    const replies = await Promise.all([1, 2, 3, 4].map(() => h.pay('k-race', purchase('seat-1'))));
    expect(new Set(replies.map((r) => r.body.id)).size).toBe(1);
    expect(replies.every((r) => r.status === 202)).toBe(true);
  });

  it('requires an Idempotency-Key', async () => {
    const reply = await h.request('POST', '/v1/payments', { body: purchase('seat-1') });
    expectProblem(reply, 400, 'idempotency_key_required');
  });

  it('refuses a malformed Idempotency-Key', async () => {
    expectProblem(await h.pay('bad key with spaces', purchase('seat-1')), 400, 'invalid_idempotency_key');
    expectProblem(await h.pay('x'.repeat(256), purchase('seat-1')), 400, 'invalid_idempotency_key');
  });
});

describe('bad input', () => {
  it('refuses malformed JSON', async () => {
    const reply = await h.request('POST', '/v1/payments', {
      raw: '{"customerId": ',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-json' },
    });
    expectProblem(reply, 400, 'invalid_json');
  });

  it('refuses a body over 64 KiB', async () => {
    const reply = await h.pay('k-big', { ...purchase('seat-1'), metadata: { blob: 'x'.repeat(70 * 1024) } });
    expectProblem(reply, 413, 'payload_too_large');
  });

  it('lists one error per invalid field', async () => {
    const reply = await h.pay('k-invalid', { customerId: 7, items: [{ productId: 'seat-1', quantity: 0 }, { productId: 'seat-1', quantity: 1.5 }] });
    expectProblem(reply, 400, 'validation_failed');
    const paths = reply.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['billingKey', 'customerId', 'items.0.quantity', 'items.1.quantity']);
  });

  it('refuses an empty item list and more than 50 items', async () => {
    expectProblem(await h.pay('k-empty', { ...purchase('seat-1'), items: [] }), 400, 'validation_failed');
    const many = Array.from({ length: 51 }, (_, i) => ({ productId: `p-${i}`, quantity: 1 }));
    expectProblem(await h.pay('k-many', { ...purchase('seat-1'), items: many }), 400, 'validation_failed');
  });

  it('refuses a quantity above 1000', async () => {
    expectProblem(await h.pay('k-qty', purchase('seat-1', 1001)), 400, 'validation_failed');
  });

  it('refuses a wait outside 0-30 seconds', async () => {
    expectProblem(await h.pay('k-wait', purchase('seat-1'), '?wait=31'), 400, 'validation_failed');
    expectProblem(await h.pay('k-wait2', purchase('seat-1'), '?wait=soon'), 400, 'validation_failed');
  });

  it('refuses an unknown status filter and a foreign cursor', async () => {
    expectProblem(await h.request('GET', '/v1/payments?status=paid'), 400, 'validation_failed');
    expectProblem(await h.request('GET', '/v1/payments?limit=101'), 400, 'validation_failed');
    expectProblem(await h.request('GET', '/v1/payments?cursor=bm9wZQ'), 400, 'validation_failed');
  });

  it('refuses unknown products and changes nothing', async () => {
    const reply = await h.pay('k-unknown', { ...purchase('seat-1'), items: [{ productId: 'nope', quantity: 1 }] });
    expectProblem(reply, 422, 'unknown_product');
    expect(reply.body.errors).toEqual([{ path: 'items.0.productId', message: 'no product nope' }]);
    expect((await h.request('GET', '/v1/payments?customerId=c-1&limit=100')).body.data.every((p: { items: { productId: string }[] }) => p.items[0]!.productId !== 'nope')).toBe(true);
  });

  it('refuses items of different partners', async () => {
    const reply = await h.pay('k-mixed', { ...purchase('seat-1'), items: [{ productId: 'seat-1', quantity: 1 }, { productId: 'book-9', quantity: 1 }] });
    expectProblem(reply, 422, 'mixed_partners');
  });

  it('answers 404 for unknown payments, products and routes', async () => {
    expectProblem(await h.request('GET', '/v1/payments/pay_nope'), 404, 'not_found');
    expectProblem(await h.request('GET', '/v1/payments/pay_nope/events'), 404, 'not_found');
    expectProblem(await h.request('GET', '/v1/products/nope'), 404, 'not_found');
    expectProblem(await h.request('GET', '/v1/nothing-here'), 404, 'not_found');
  });

  it('answers 405 for a known path with another method', async () => {
    const reply = await h.request('DELETE', '/v1/payments');
    expectProblem(reply, 405, 'method_not_allowed');
    expect(reply.headers.get('allow')).toContain('POST');
  });

  it('echoes a client request id', async () => {
    const reply = await h.request('GET', '/healthz', { headers: { 'x-request-id': 'trace-123' } });
    expect(reply.headers.get('x-request-id')).toBe('trace-123');
  });
});

describe('products', () => {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  it('creates a product and shows its stock', async () => {
    const created = await h.request('POST', '/v1/products', { body: { name: 'Course', price: 1000, stock: 3, partnerId: 'p' }, headers: admin });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Course', price: 1000, currency: 'KRW', stock: 3, partnerId: 'p' });
    expect((await h.request('GET', `/v1/products/${created.body.id}`)).body).toEqual(created.body);
  });

  it('refuses a duplicate product id', async () => {
    const reply = await h.request('POST', '/v1/products', { body: { id: 'seat-1', name: 'x', price: 1, stock: 1, partnerId: 'p' }, headers: admin });
    expectProblem(reply, 409, 'conflict');
  });

  it('refuses a product without the admin token', async () => {
    expectProblem(await h.request('POST', '/v1/products', { body: { name: 'x', price: 1, stock: 1, partnerId: 'p' } }), 401, 'unauthorized');
    const wrong = await h.request('POST', '/v1/products', { body: { id: 'sneaky', name: 'x', price: 1, stock: 1, partnerId: 'p' }, headers: { authorization: 'Bearer wrong' } });
    expectProblem(wrong, 401, 'unauthorized');
    expectProblem(await h.request('GET', '/v1/products/sneaky'), 404, 'not_found');
  });

  it('lists products by id, a page at a time, and refuses bad paging', async () => {
    for (const id of ['list-b', 'list-a', 'list-c']) {
      await h.request('POST', '/v1/products', { body: { id, name: id, price: 1_000, stock: 1, partnerId: 'p' }, headers: admin });
    }
    const all = (await h.request('GET', '/v1/products')).body.data.map((p: { id: string }) => p.id);
    expect(all.filter((id: string) => id.startsWith('list-'))).toEqual(['list-a', 'list-b', 'list-c']);
    const first = await h.request('GET', '/v1/products?limit=1&cursor=list-');
    expect(first.body).toMatchObject({ data: [{ id: 'list-a', stock: 1, currency: 'KRW' }], nextCursor: 'list-a' });
    expect((await h.request('GET', `/v1/products?limit=2&cursor=${first.body.nextCursor}`)).body.data.map((p: { id: string }) => p.id)).toEqual(['list-b', 'list-c']);
    for (const query of ['?limit=0', '?limit=101', '?limit=x', `?cursor=${'c'.repeat(65)}`]) {
      expectProblem(await h.request('GET', `/v1/products${query}`), 400, 'validation_failed');
    }
  });

  it('refuses a fractional price', async () => {
    const reply = await h.request('POST', '/v1/products', { body: { name: 'x', price: 10.5, stock: 1, partnerId: 'p' }, headers: admin });
    expectProblem(reply, 400, 'validation_failed');
  });
});
