import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockPg, type MockPg } from '../../src/mock-pg/mock-pg.ts';
import { PgApiError } from '../../src/mock-pg/pg-api-error.ts';

// The mock PG's test controls over its books, and list requests no SDK would send.

const SECRET = 'ledger-test-secret';
const STORE_ID = 'store-ledger-test';
const WEBHOOK_SECRET = `whsec_${Buffer.from('ledger-test-webhook-secret').toString('base64')}`;

let mockPg: MockPg;
let baseUrl: string;
let lastId = 0;
const newPaymentId = () => `pay_ledger_${Date.now()}_${++lastId}`;

beforeAll(async () => {
  mockPg = createMockPg({ secret: SECRET, storeId: STORE_ID, webhookSecret: WEBHOOK_SECRET });
  baseUrl = await mockPg.listen(0);
});

afterAll(() => mockPg.close());

interface Answer {
  status: number;
  body: any;
}

/** `json` is sent serialized, `raw` as it is; `secret: null` sends no Authorization header. */
async function send(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { json?: unknown; raw?: string; secret?: string | null } = {},
): Promise<Answer> {
  const secret = options.secret === undefined ? SECRET : options.secret;
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: secret === null ? {} : { authorization: `PortOne ${secret}` },
    body: options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json)),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

const editLedger = (paymentId: string, json: unknown) => send('PUT', `/__ledger/${paymentId}`, { json });
const getPayment = (paymentId: string) => send('GET', `/payments/${paymentId}`);

async function chargeOk(paymentId: string, total = 12_000): Promise<void> {
  const answer = await send('POST', `/payments/${paymentId}/billing-key`, {
    json: { billingKey: 'bk_test_ok', orderName: 'Book', amount: { total }, currency: 'KRW' },
  });
  expect(answer.status).toBe(200);
}

describe('PUT /__ledger/:paymentId', () => {
  it('creates a PAID payment from an amount and paidAt, filling in the rest', async () => {
    const paymentId = newPaymentId();

    const answer = await editLedger(paymentId, { amount: 5_000, paidAt: '2026-11-30T15:00:00+09:00' });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: paymentId,
      status: 'PAID',
      storeId: STORE_ID,
      billingKey: 'bk_ledger_edit',
      orderName: 'ledger edit',
      currency: 'KRW',
      amount: { total: 5_000, paid: 5_000, cancelled: 0 },
      paidAt: '2026-11-30T06:00:00.000Z',
      requestedAt: '2026-11-30T06:00:00.000Z',
      statusChangedAt: '2026-11-30T06:00:00.000Z',
    });
    expect(answer.body.pgTxId).toMatch(/^pgtx_/);
    expect((await getPayment(paymentId)).body).toEqual(answer.body);
    expect(mockPg.ledger().find((entry) => entry.paymentId === paymentId)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('overwrites only the given fields of a charged payment', async () => {
    const paymentId = newPaymentId();
    await chargeOk(paymentId);
    const before = (await getPayment(paymentId)).body;

    const answer = await editLedger(paymentId, { amount: 9_000 });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      ...before,
      amount: { ...before.amount, total: 9_000, paid: 9_000 },
      updatedAt: answer.body.updatedAt,
    });
  });

  it('cancels in the books, wholly or in part', async () => {
    const whole = newPaymentId();
    const part = newPaymentId();
    await chargeOk(whole);
    await chargeOk(part);

    const cancelled = await editLedger(whole, { status: 'CANCELLED' });
    const partly = await editLedger(part, { status: 'PARTIAL_CANCELLED', cancelledAmount: 2_000 });

    expect(cancelled.body).toMatchObject({ status: 'CANCELLED', amount: { paid: 12_000, cancelled: 12_000 } });
    expect(cancelled.body.cancellations).toMatchObject([{ status: 'SUCCEEDED', totalAmount: 12_000 }]);
    expect(cancelled.body.statusChangedAt).toBe(cancelled.body.cancellations[0].cancelledAt);
    expect(partly.body).toMatchObject({ status: 'PARTIAL_CANCELLED', amount: { paid: 12_000, cancelled: 2_000 } });
    expect(mockPg.ledger().find((entry) => entry.paymentId === part)).toMatchObject({ cancelledAmount: 2_000 });
  });

  it('marks a paid payment failed, with nothing paid', async () => {
    const paymentId = newPaymentId();
    await chargeOk(paymentId);

    const answer = await editLedger(paymentId, { status: 'FAILED' });

    expect(answer.body).toMatchObject({ status: 'FAILED', amount: { total: 12_000, paid: 0 }, failure: { pgCode: 'LEDGER_EDIT' } });
    expect(answer.body.paidAt).toBeUndefined();
  });

  describe('refuses an edit that is malformed or cannot hold together, and changes nothing', () => {
    const paymentId = `pay_ledger_refused_${Date.now()}`;
    let before: unknown;

    beforeAll(async () => {
      await chargeOk(paymentId);
      before = (await getPayment(paymentId)).body;
    });

    it.each([
      ['an unknown field', { amount: 1, note: 'x' }],
      ['a negative amount', { amount: -5 }],
      ['a fractional amount', { amount: 1.5 }],
      ['an amount as text', { amount: '5000' }],
      ['a status it does not set', { status: 'READY' }],
      ['a paidAt that is not RFC 3339', { paidAt: 'yesterday' }],
      ['a date that does not exist', { paidAt: '2026-02-30T00:00:00Z' }],
      ['a lowercase currency', { currency: 'krw' }],
      ['paidAt on a failed payment', { status: 'FAILED', paidAt: '2026-11-30T00:00:00Z' }],
      ['a paidAt before requestedAt', { requestedAt: '2026-11-30T00:00:00Z', paidAt: '2026-11-29T00:00:00Z' }],
      ['PARTIAL_CANCELLED with nothing cancelled', { status: 'PARTIAL_CANCELLED' }],
      ['PARTIAL_CANCELLED of everything', { status: 'PARTIAL_CANCELLED', cancelledAmount: 12_000 }],
      ['a cancelled amount on a PAID payment', { cancelledAmount: 100 }],
      ['an array', []],
    ])('%s', async (_, json) => {
      const answer = await editLedger(paymentId, json);

      expect(answer.status).toBe(400);
      expect(answer.body.type).toBe('INVALID_REQUEST');
      expect((await getPayment(paymentId)).body).toEqual(before);
    });

    it('a body that is not JSON', async () => {
      const answer = await send('PUT', `/__ledger/${paymentId}`, { raw: '{"amount": 5' });

      expect(answer.status).toBe(400);
      expect((await getPayment(paymentId)).body).toEqual(before);
    });

    it('a new payment without an amount', async () => {
      const unknown = newPaymentId();
      const answer = await editLedger(unknown, { paidAt: '2026-11-30T00:00:00Z' });

      expect(answer).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
      expect((await getPayment(unknown)).status).toBe(404);
    });
  });
});

describe('DELETE /__ledger/:paymentId', () => {
  it('forgets a payment, then answers PAYMENT_NOT_FOUND', async () => {
    const paymentId = newPaymentId();
    await chargeOk(paymentId);

    const removed = await send('DELETE', `/__ledger/${paymentId}`);
    const again = await send('DELETE', `/__ledger/${paymentId}`);

    expect(removed).toEqual({ status: 204, body: undefined });
    expect(again).toMatchObject({ status: 404, body: { type: 'PAYMENT_NOT_FOUND' } });
    expect((await getPayment(paymentId)).status).toBe(404);
    expect(mockPg.ledger().some((entry) => entry.paymentId === paymentId)).toBe(false);
  });
});

describe('the same controls in process', () => {
  it('edits and removes through the MockPg object', () => {
    const paymentId = newPaymentId();

    const view = mockPg.editLedger(paymentId, { amount: 700, status: 'CANCELLED', requestedAt: '2026-12-01T00:00:00Z' });
    expect(view).toMatchObject({ status: 'CANCELLED', amount: { paid: 700, cancelled: 700 }, paidAt: '2026-12-01T00:00:00.000Z' });

    mockPg.removeFromLedger(paymentId);
    expect(mockPg.ledger().some((entry) => entry.paymentId === paymentId)).toBe(false);
  });

  it('throws PgApiError for bad changes and for an unknown id', () => {
    expect(() => mockPg.editLedger(newPaymentId(), { amount: -1 })).toThrow(PgApiError);
    expect(() => mockPg.removeFromLedger(newPaymentId())).toThrow(PgApiError);
  });
});

describe('hostile list requests', () => {
  const query = (requestBody: string) => `?requestBody=${encodeURIComponent(requestBody)}`;
  const cursorOf = (content: unknown) => Buffer.from(JSON.stringify(content)).toString('base64url');

  it.each([
    ['requestBody that is not JSON', `/payments-by-cursor${query('{"size": 10')}`],
    ['requestBody null', `/payments-by-cursor${query('null')}`],
    ['requestBody an array', `/payments-by-cursor${query('[]')}`],
    ['requestBody given twice', `/payments-by-cursor${query('{}')}&requestBody=%7B%7D`],
    ['size over 1000', `/payments-by-cursor${query('{"size": 1001}')}`],
    ['a huge size', `/payments-by-cursor${query('{"size": 1e12}')}`],
    ['size beyond any number', `/payments-by-cursor${query('{"size": 1e309}')}`],
    ['a negative size', `/payments-by-cursor${query('{"size": -1}')}`],
    ['size 0', `/payments-by-cursor${query('{"size": 0}')}`],
    ['a fractional size', `/payments-by-cursor${query('{"size": 1.5}')}`],
    ['size as text', `/payments-by-cursor${query('{"size": "10"}')}`],
    ['from that is not RFC 3339', `/payments-by-cursor${query('{"from": "yesterday"}')}`],
    ['from a day that does not exist', `/payments-by-cursor${query('{"from": "2026-02-30T00:00:00Z"}')}`],
    ['from as a number', `/payments-by-cursor${query('{"from": 1767225600000}')}`],
    ['from after until', `/payments-by-cursor${query('{"from": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}')}`],
    ['a cursor that is not ours', `/payments-by-cursor${query('{"cursor": "garbage!"}')}`],
    ['a cursor of the wrong shape', `/payments-by-cursor${query(JSON.stringify({ cursor: cursorOf({ id: 'x' }) }))}`],
    ['a cursor with a bad instant', `/payments-by-cursor${query(JSON.stringify({ cursor: cursorOf(['soon', 'x']) }))}`],
    ['a cursor as a number', `/payments-by-cursor${query('{"cursor": 42}')}`],
    ['page not an object', `/payments${query('{"page": "first"}')}`],
    ['a negative page number', `/payments${query('{"page": {"number": -1}}')}`],
    ['a page number beyond int32', `/payments${query('{"page": {"number": 2147483648}}')}`],
    ['a page size over 1000', `/payments${query('{"page": {"size": 100000}}')}`],
    ['a negative page size', `/payments${query('{"page": {"size": -10}}')}`],
    ['filter an array', `/payments${query('{"filter": []}')}`],
    ['status not an array', `/payments${query('{"filter": {"status": "PAID"}}')}`],
    ['an unknown status', `/payments${query('{"filter": {"status": ["NOPE"]}}')}`],
    ['an unknown timestampType', `/payments${query('{"filter": {"timestampType": "UPDATED_AT"}}')}`],
    ['an unknown sortBy', `/payments${query('{"filter": {"sortBy": "AMOUNT"}}')}`],
    ['an unknown sortOrder', `/payments${query('{"filter": {"sortOrder": "down"}}')}`],
    ['until that is not RFC 3339', `/payments${query('{"filter": {"until": "2026-12-01"}}')}`],
  ])('%s → 400 INVALID_REQUEST', async (_, path) => {
    const answer = await send('GET', path);

    expect(answer).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
  });

  it.each([
    ['/payments-by-cursor', query('{"storeId": "store-of-someone-else"}')],
    ['/payments', query('{"filter": {"storeId": "store-of-someone-else"}}')],
  ])('%s for another store → 403 FORBIDDEN', async (path, search) => {
    expect(await send('GET', `${path}${search}`)).toMatchObject({ status: 403, body: { type: 'FORBIDDEN' } });
  });

  it('answers a URL too long for the server with a 4xx', async () => {
    const answer = await fetch(`${baseUrl}/payments${query(JSON.stringify({ filter: { storeId: 'x'.repeat(100_000) } }))}`, {
      headers: { authorization: `PortOne ${SECRET}` },
    });

    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  });

  it('lists with no requestBody at all, and ignores filter fields it does not support', async () => {
    const byCursor = await send('GET', '/payments-by-cursor');
    const byPage = await send('GET', `/payments${query('{"filter": {"currency": "USD", "methods": ["CARD"], "isTest": 1}}')}`);

    expect(byCursor).toMatchObject({ status: 200, body: { items: expect.any(Array) } });
    expect(byPage).toMatchObject({ status: 200, body: { items: expect.any(Array), page: { number: 0, size: 10 } } });
  });

  it('keeps the list paths apart from GET /payments/:paymentId', async () => {
    const paymentId = newPaymentId();
    await chargeOk(paymentId);

    expect(await send('GET', '/payments/payments-by-cursor')).toMatchObject({ status: 404, body: { type: 'PAYMENT_NOT_FOUND' } });
    expect((await getPayment(paymentId)).body).toMatchObject({ id: paymentId, status: 'PAID' });
    expect((await send('GET', '/payments')).body.items.map((payment: { id: string }) => payment.id)).toContain(paymentId);
  });
});

describe('authentication of the new routes', () => {
  it.each([
    ['GET', '/payments-by-cursor'],
    ['GET', '/payments'],
    ['PUT', '/__ledger/pay_ledger_unauthorized'],
    ['DELETE', '/__ledger/pay_ledger_unauthorized'],
  ] as const)('%s %s without the secret → 401 UNAUTHORIZED', async (method, path) => {
    const json = method === 'PUT' ? { amount: 1_000 } : undefined;

    expect(await send(method, path, { json, secret: null })).toMatchObject({ status: 401, body: { type: 'UNAUTHORIZED' } });
    expect(await send(method, path, { json, secret: 'not-the-secret' })).toMatchObject({ status: 401 });
    expect(mockPg.ledger().some((entry) => entry.paymentId === 'pay_ledger_unauthorized')).toBe(false);
  });
});
