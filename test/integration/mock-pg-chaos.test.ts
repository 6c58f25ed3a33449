import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from '@portone/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockPg, type LedgerEntry, type MockPg, type MockPgOptions } from '../../src/mock-pg/mock-pg.ts';

const SECRET = 'chaos-test-secret';
const STORE_ID = 'store-chaos-test';
const WEBHOOK_SECRET = `whsec_${Buffer.from('chaos-test-webhook-secret').toString('base64')}`;
const DELAY_MS = 400;

/** An HTTP answer, or `reset` when the connection died without one. */
type Answer = { status: number; body: any } | 'reset';

interface Running {
  mockPg: MockPg;
  baseUrl: string;
}

const running: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((resource) => resource.close()));
});

async function startMockPg(options: Partial<MockPgOptions> = {}): Promise<Running> {
  const mockPg = createMockPg({
    secret: SECRET,
    storeId: STORE_ID,
    webhookSecret: WEBHOOK_SECRET,
    chaos: { delayMs: DELAY_MS },
    ...options,
  });
  running.push(mockPg);
  return { mockPg, baseUrl: await mockPg.listen(0) };
}

async function call(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer> {
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `PortOne ${SECRET}`, ...options.headers },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  } catch (err) {
    if (options.signal?.aborted) throw err;
    return 'reset';
  }
}

let lastId = 0;
const newPaymentId = () => `pay_chaos_${Date.now()}_${++lastId}`;

const ORDER = { orderName: 'Book', amount: { total: 12_000 }, currency: 'KRW', customer: { id: 'cust_chaos' } };

function charge(
  { baseUrl }: Running,
  paymentId: string,
  billingKey: string,
  options: { chaos?: string; signal?: AbortSignal } = {},
): Promise<Answer> {
  return call(baseUrl, 'POST', `/payments/${paymentId}/billing-key`, {
    body: { storeId: STORE_ID, billingKey, ...ORDER },
    headers: options.chaos ? { 'x-chaos': options.chaos } : {},
    signal: options.signal,
  });
}

function cancel(
  { baseUrl }: Running,
  paymentId: string,
  body: { amount?: number; reason: string },
  headers: Record<string, string> = {},
): Promise<Answer> {
  return call(baseUrl, 'POST', `/payments/${paymentId}/cancel`, { body, headers });
}

const getPayment = ({ baseUrl }: Running, paymentId: string) => call(baseUrl, 'GET', `/payments/${paymentId}`);

const ledgerEntry = ({ mockPg }: Running, paymentId: string): LedgerEntry | undefined =>
  mockPg.ledger().find((entry) => entry.paymentId === paymentId);

/** A 5xx answer or a dropped connection: either way the client cannot know what happened. */
function expectNoAnswer(answer: Answer): void {
  if (answer === 'reset') return;
  expect(answer.status).toBeGreaterThanOrEqual(500);
}

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function statusBecomes(pg: Running, paymentId: string, status: string): Promise<void> {
  await eventually(async () => {
    const answer = await getPayment(pg, paymentId);
    return answer !== 'reset' && answer.body?.status === status ? true : undefined;
  });
}

describe('x-chaos header', () => {
  it('ok charges even a declining test key', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    const answer = await charge(pg, paymentId, 'bk_test_decline', { chaos: 'ok' });

    expect(answer).toMatchObject({ status: 200, body: { payment: { pgTxId: expect.any(String) } } });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('decline answers 400 PG_PROVIDER and records FAILED', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    const answer = await charge(pg, paymentId, 'bk_test_ok', { chaos: 'decline' });

    expect(answer).toMatchObject({ status: 400, body: { type: 'PG_PROVIDER', pgCode: 'CARD_DECLINED' } });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'FAILED', charges: 0 });
  });

  it('error answers 5xx or resets and charges nothing', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    expectNoAnswer(await charge(pg, paymentId, 'bk_test_ok', { chaos: 'error' }));

    expect(await getPayment(pg, paymentId)).toMatchObject({ status: 404, body: { type: 'PAYMENT_NOT_FOUND' } });
  });

  it('ambiguous charges once and answers 5xx or resets', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    expectNoAnswer(await charge(pg, paymentId, 'bk_test_ok', { chaos: 'ambiguous' }));

    expect(await getPayment(pg, paymentId)).toMatchObject({ status: 200, body: { status: 'PAID' } });
    expect(ledgerEntry(pg, paymentId)?.charges).toBe(1);
  });

  it('delay shows PENDING, then charges after delayMs', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    const answer = charge(pg, paymentId, 'bk_test_ok', { chaos: 'delay' });
    await statusBecomes(pg, paymentId, 'PENDING');

    expect(await answer).toMatchObject({ status: 200 });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('an unknown value is 400 INVALID_REQUEST', async () => {
    const pg = await startMockPg();

    const answer = await charge(pg, newPaymentId(), 'bk_test_ok', { chaos: 'explode' });

    expect(answer).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
  });
});

describe('test billing keys', () => {
  it('bk_test_ok charges whatever the chaos rates', async () => {
    const pg = await startMockPg({ chaos: { failureRate: 1, delayRate: 1, delayMs: 60_000 } });
    const paymentId = newPaymentId();

    expect(await charge(pg, paymentId, 'bk_test_ok')).toMatchObject({ status: 200 });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('bk_test_decline answers 400 PG_PROVIDER', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    expect(await charge(pg, paymentId, 'bk_test_decline')).toMatchObject({ status: 400, body: { type: 'PG_PROVIDER' } });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'FAILED', charges: 0 });
  });

  it('bk_test_error answers 5xx or resets, and a later GET is 404', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    expectNoAnswer(await charge(pg, paymentId, 'bk_test_error'));

    expect(await getPayment(pg, paymentId)).toMatchObject({ status: 404, body: { type: 'PAYMENT_NOT_FOUND' } });
    expect(ledgerEntry(pg, paymentId)).toBeUndefined();
  });

  it('bk_test_error never charges, whichever way it fails', async () => {
    const pg = await startMockPg();
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i += 1) answers.push(await charge(pg, newPaymentId(), 'bk_test_error'));

    answers.forEach(expectNoAnswer);
    expect(pg.mockPg.ledger()).toEqual([]);
  });

  it('bk_test_ambiguous charges, answers 5xx or resets, and GET shows PAID', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    expectNoAnswer(await charge(pg, paymentId, 'bk_test_ambiguous'));

    expect(await getPayment(pg, paymentId)).toMatchObject({ status: 200, body: { status: 'PAID', amount: { paid: 12_000 } } });
    expect(ledgerEntry(pg, paymentId)?.charges).toBe(1);
  });

  it('bk_test_delay is PENDING during the delay and PAID after it, though the client gave up', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();
    const client = new AbortController();

    const answer = charge(pg, paymentId, 'bk_test_delay', { signal: client.signal });
    await statusBecomes(pg, paymentId, 'PENDING');
    client.abort();
    await expect(answer).rejects.toThrow();

    await statusBecomes(pg, paymentId, 'PAID');
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('a second charge during the delay is refused and nothing is charged twice', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    const first = charge(pg, paymentId, 'bk_test_delay');
    await statusBecomes(pg, paymentId, 'PENDING');
    const second = await charge(pg, paymentId, 'bk_test_ok');

    expect(second).toMatchObject({ status: 409, body: { type: 'ALREADY_PAID' } });
    expect(await first).toMatchObject({ status: 200 });
    expect(ledgerEntry(pg, paymentId)?.charges).toBe(1);
  });

  it('bk_test_missing answers 404 BILLING_KEY_NOT_FOUND and records nothing', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();

    expect(await charge(pg, paymentId, 'bk_test_missing')).toMatchObject({
      status: 404,
      body: { type: 'BILLING_KEY_NOT_FOUND' },
    });
    expect(ledgerEntry(pg, paymentId)).toBeUndefined();
  });
});

describe('chaos settings', () => {
  it('POST /__chaos changes the rates and GET /__chaos shows them', async () => {
    const pg = await startMockPg();
    const settings = { failureRate: 0.25, delayRate: 0.1, delayMs: 1_000, ambiguousRate: 0.05, cancelRefusalRate: 0.5, seed: 7 };

    expect(await call(pg.baseUrl, 'POST', '/__chaos', { body: settings })).toMatchObject({ status: 200, body: settings });
    expect(await call(pg.baseUrl, 'GET', '/__chaos')).toMatchObject({ status: 200, body: settings });
    expect(pg.mockPg.chaos()).toEqual(settings);
  });

  it('POST /__chaos keeps the settings it is not given', async () => {
    const pg = await startMockPg();

    const answer = await call(pg.baseUrl, 'POST', '/__chaos', { body: { failureRate: 0.5 } });

    expect(answer).toMatchObject({ status: 200, body: { failureRate: 0.5, delayRate: 0, delayMs: DELAY_MS, seed: 1 } });
  });

  it('POST /__chaos rejects a rate above 1', async () => {
    const pg = await startMockPg();

    const answer = await call(pg.baseUrl, 'POST', '/__chaos', { body: { failureRate: 1.5 } });

    expect(answer).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
    expect(pg.mockPg.chaos().failureRate).toBe(0);
  });

  it('a seeded run with failureRate 0.5 replays the same outcomes for the same seed', async () => {
    const pg = await startMockPg();
    const run = async () => {
      await call(pg.baseUrl, 'POST', '/__chaos', { body: { failureRate: 0.5, seed: 42 } });
      const outcomes: Array<number | 'reset'> = [];
      for (let i = 0; i < 40; i += 1) {
        const answer = await charge(pg, newPaymentId(), 'bk_live_card');
        outcomes.push(answer === 'reset' ? 'reset' : answer.status);
      }
      return outcomes;
    };

    const first = await run();
    const second = await run();

    expect(second).toEqual(first);
    expect(first).toContain(200);
    expect(first.some((outcome) => outcome !== 200)).toBe(true);
  });

  it('ambiguous failures charge exactly once per payment', async () => {
    const pg = await startMockPg({ chaos: { failureRate: 1, ambiguousRate: 1 } });
    const ids = Array.from({ length: 10 }, newPaymentId);

    for (const paymentId of ids) expectNoAnswer(await charge(pg, paymentId, 'bk_live_card'));

    expect(pg.mockPg.ledger().map((entry) => [entry.status, entry.charges])).toEqual(ids.map(() => ['PAID', 1]));
  });
});

describe('cancel idempotency and chaos', () => {
  async function paidPayment(pg: Running): Promise<string> {
    const paymentId = newPaymentId();
    expect(await charge(pg, paymentId, 'bk_test_ok')).toMatchObject({ status: 200 });
    return paymentId;
  }

  it('the same Idempotency-Key twice cancels once and returns the same cancellation', async () => {
    const pg = await startMockPg();
    const paymentId = await paidPayment(pg);
    const headers = { 'idempotency-key': `${paymentId}:cancel:1` };

    const first = await cancel(pg, paymentId, { amount: 2_000, reason: 'refund' }, headers);
    const second = await cancel(pg, paymentId, { amount: 2_000, reason: 'refund' }, headers);

    expect(first).toMatchObject({ status: 200 });
    expect(second).toEqual(first);
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PARTIAL_CANCELLED', cancelledAmount: 2_000 });
  });

  it('concurrent requests with one Idempotency-Key cancel once', async () => {
    const pg = await startMockPg();
    const paymentId = await paidPayment(pg);
    const headers = { 'idempotency-key': `${paymentId}:cancel:1`, 'x-chaos': 'delay' };

    const answers = await Promise.all([
      cancel(pg, paymentId, { amount: 1_000, reason: 'refund' }, headers),
      cancel(pg, paymentId, { amount: 1_000, reason: 'refund' }, headers),
    ]);

    expect(answers[0]).toMatchObject({ status: 200 });
    expect(answers[1]).toEqual(answers[0]);
    expect(ledgerEntry(pg, paymentId)?.cancellations).toHaveLength(1);
  });

  it('different Idempotency-Keys cancel twice', async () => {
    const pg = await startMockPg();
    const paymentId = await paidPayment(pg);

    await cancel(pg, paymentId, { amount: 1_000, reason: 'a' }, { 'idempotency-key': 'k1' });
    await cancel(pg, paymentId, { amount: 1_000, reason: 'b' }, { 'idempotency-key': 'k2' });

    expect(ledgerEntry(pg, paymentId)).toMatchObject({ cancelledAmount: 2_000 });
  });

  it('x-chaos error on a cancel answers 5xx or resets and leaves the payment paid', async () => {
    const pg = await startMockPg();
    const paymentId = await paidPayment(pg);

    expectNoAnswer(await cancel(pg, paymentId, { reason: 'refund' }, { 'x-chaos': 'error' }));

    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', cancelledAmount: 0 });
  });

  it('x-chaos ambiguous on a cancel cancels, and a retry with the key returns that cancellation', async () => {
    const pg = await startMockPg();
    const paymentId = await paidPayment(pg);
    const key = { 'idempotency-key': `${paymentId}:cancel:1` };

    expectNoAnswer(await cancel(pg, paymentId, { reason: 'refund' }, { ...key, 'x-chaos': 'ambiguous' }));
    const retry = await cancel(pg, paymentId, { reason: 'refund' }, key);

    const entry = ledgerEntry(pg, paymentId);
    expect(entry).toMatchObject({ status: 'CANCELLED', cancelledAmount: 12_000 });
    expect(retry).toMatchObject({ status: 200, body: { cancellation: { id: entry?.cancellations[0]?.id } } });
  });

  it('x-chaos delay on a cancel cancels after delayMs', async () => {
    const pg = await startMockPg();
    const paymentId = await paidPayment(pg);

    const answer = await cancel(pg, paymentId, { reason: 'refund' }, { 'x-chaos': 'delay' });

    expect(answer).toMatchObject({ status: 200, body: { cancellation: { totalAmount: 12_000 } } });
    expect(ledgerEntry(pg, paymentId)?.status).toBe('CANCELLED');
  });

  it('cancelRefusalRate 1 refuses every cancel for good, test keys included, and 0 lets them through again', async () => {
    const pg = await startMockPg({ chaos: { delayMs: DELAY_MS, cancelRefusalRate: 1 } });
    const paymentId = await paidPayment(pg);

    const refused = await cancel(pg, paymentId, { reason: 'refund' }, { 'idempotency-key': 'k-refused' });
    expect(refused).toMatchObject({ status: 400, body: { type: 'PG_PROVIDER', pgCode: 'CANCEL_REFUSED' } });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', cancelledAmount: 0 });

    pg.mockPg.setChaos({ cancelRefusalRate: 0 });
    expect(await cancel(pg, paymentId, { reason: 'refund' }, { 'idempotency-key': 'k-accepted' })).toMatchObject({ status: 200 });
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'CANCELLED' });
  });

  it('a random cancel failure leaves the payment paid', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();
    expect(await charge(pg, paymentId, 'bk_live_card')).toMatchObject({ status: 200 });
    pg.mockPg.setChaos({ failureRate: 1 });

    expectNoAnswer(await cancel(pg, paymentId, { reason: 'refund' }));

    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PAID', cancelledAmount: 0 });
  });
});

describe('test routes', () => {
  it('GET /__ledger lists payments with the auth header', async () => {
    const pg = await startMockPg();
    const paymentId = newPaymentId();
    await charge(pg, paymentId, 'bk_test_ok');

    const answer = await call(pg.baseUrl, 'GET', '/__ledger');

    expect(answer).toMatchObject({ status: 200, body: { payments: [{ paymentId, status: 'PAID', charges: 1 }] } });
  });

  it.each([
    ['GET', '/__ledger'],
    ['GET', '/__chaos'],
    ['POST', '/__chaos'],
  ] as const)('%s %s without the auth header is 401', async (method, path) => {
    const pg = await startMockPg();

    const response = await fetch(`${pg.baseUrl}${path}`, { method, body: method === 'POST' ? '{"failureRate":1}' : undefined });

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: 'UNAUTHORIZED' });
    expect(pg.mockPg.chaos().failureRate).toBe(0);
  });
});

describe('webhook delivery', () => {
  it('retries with the same webhook-id when the receiver answers 500 first', async () => {
    const deliveries: Array<{ body: string; headers: IncomingHttpHeaders }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        deliveries.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        res.writeHead(deliveries.length === 1 ? 500 : 200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    running.push({ close: () => new Promise<void>((resolve) => receiver.close(() => resolve())) });
    const { port } = receiver.address() as AddressInfo;
    const pg = await startMockPg({
      webhookUrl: `http://127.0.0.1:${port}/hook`,
      webhookRetry: { attempts: 3, baseMs: 50 },
    });

    await charge(pg, newPaymentId(), 'bk_test_ok');

    const [failed, retried] = await eventually(() => (deliveries.length >= 2 ? deliveries : undefined));
    expect(retried!.headers['webhook-id']).toBe(failed!.headers['webhook-id']);
    expect(retried!.body).toBe(failed!.body);
    expect(await Webhook.verify(WEBHOOK_SECRET, retried!.body, retried!.headers)).toMatchObject({ type: 'Transaction.Paid' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(deliveries).toHaveLength(2);
  });
});

describe('close', () => {
  it('cancels a pending delay and drops the waiting connection', async () => {
    const pg = await startMockPg({ chaos: { delayMs: 60_000 } });
    const paymentId = newPaymentId();
    const answer = charge(pg, paymentId, 'bk_test_delay');
    await statusBecomes(pg, paymentId, 'PENDING');

    const started = Date.now();
    await pg.mockPg.close();

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await answer).toBe('reset');
    expect(ledgerEntry(pg, paymentId)).toMatchObject({ status: 'PENDING', charges: 0 });
  });

  it('cancels pending webhook retries', async () => {
    let deliveries = 0;
    const receiver = createServer((_req, res) => {
      deliveries += 1;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    running.push({ close: () => new Promise<void>((resolve) => receiver.close(() => resolve())) });
    const { port } = receiver.address() as AddressInfo;
    const pg = await startMockPg({
      webhookUrl: `http://127.0.0.1:${port}/hook`,
      webhookRetry: { attempts: 5, baseMs: 60_000 },
    });
    await charge(pg, newPaymentId(), 'bk_test_ok');
    await eventually(() => (deliveries === 1 ? true : undefined));

    const started = Date.now();
    await pg.mockPg.close();

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(deliveries).toBe(1);
  });
});
