import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from '../support/log-capture.ts';
import { ADMIN_TOKEN, purchase, startHarness, type Harness } from '../support/harness.ts';

/** The service as `npm start` runs it, but logging (JSON, debug and up) into this test's array. */
describe('what the service logs', () => {
  const { logger, records } = captureLogs();
  let h: Harness;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const requestLines = (path: string) => records.filter((r) => r.msg === 'request' && r.path === path);
  const restingLines = (paymentId: string) => records.filter((r) => r.msg === 'payment at rest' && r.paymentId === paymentId);

  beforeAll(async () => {
    h = await startHarness({}, {}, { logger });
  });
  afterAll(() => h.close());

  it('logs one line per request at info, with its method, path, status and request id', async () => {
    const product = { id: 'book-1', name: 'A book', price: 15_000, stock: 5, partnerId: 'p1' };
    const created = await post('/v1/products', product, { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-request-id': 'req-create-1' });
    expect(created.status).toBe(201);
    expect(requestLines('/v1/products')).toEqual([
      expect.objectContaining({ level: 30, component: 'http', method: 'POST', status: 201, requestId: 'req-create-1', ms: expect.any(Number) }),
    ]);

    const missing = await fetch(`${h.url}/v1/products/none`);
    expect(missing.status).toBe(404);
    expect(requestLines('/v1/products/none')).toEqual([expect.objectContaining({ level: 30, method: 'GET', status: 404, problem: 'not_found' })]);
  });

  it('logs the health and metrics probes at debug', async () => {
    for (const path of ['/healthz', '/metrics']) {
      expect((await fetch(`${h.url}${path}`)).status).toBe(200);
      expect(requestLines(path)).toEqual([expect.objectContaining({ level: 20, method: 'GET', status: 200 })]);
    }
  });

  it('logs one line when a payment comes to rest, and none when the resting payment is woken again', async () => {
    const paid = await post('/v1/payments?wait=10', purchase('book-1', 2), { 'idempotency-key': 'order-logs-1' });
    const payment = (await paid.json()) as { id: string; status: string };
    expect(payment.status).toBe('completed');
    expect(restingLines(payment.id)).toEqual([
      expect.objectContaining({ level: 30, component: 'payment-host', status: 'completed', state: 'completed', amount: 30_000 }),
    ]);

    expect(await h.service.host.resume(payment.id)).toBe(true);
    await h.service.host.committed();
    expect(restingLines(payment.id)).toHaveLength(1);
    expect(records.some((r) => JSON.stringify(r).includes('bk_test_ok'))).toBe(false);
  });

  it('logs a client that leaves a live stream at debug, not as an error', async () => {
    const { id } = (await (await post('/v1/payments?wait=10', purchase('book-1'), { 'idempotency-key': 'order-logs-2' })).json()) as { id: string };
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const response = await fetch(`${h.url}/v1/payments/${id}/live`, { signal: controller.signal });
      await response.body!.getReader().read();
      controller.abort();
    }
    await expect.poll(() => requestLines(`/v1/payments/${id}/live`).length).toBe(3);
    expect(records.filter((r) => r.level >= 50)).toEqual([]);
  });
});
