import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createPgClient, type PgClient } from '../../src/pg/pg-client.ts';

// How the client reads each PG answer. A stub server answers whatever the test sets, so
// every status and error type PortOne documents (and some it does not) can be tried.

/** What the stub PG answers next: a JSON body, raw text (a proxy's page), or nothing. */
interface Answer {
  status: number;
  body?: object | string;
}

let answer: Answer = { status: 200 };
let server: Server;
let pg: PgClient;
const onAuthFailure = vi.fn();

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const { status, body } = answer;
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json' }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  pg = createPgClient({
    baseUrl: `http://127.0.0.1:${port}`,
    secret: 'pg-client-errors-secret',
    storeId: 'store-pg-client-errors',
    timeoutMs: 5_000,
    connections: 2,
    queueTimeoutMs: 5_000,
    logger: createLogger('silent', 'test'),
    onAuthFailure,
  });
});

afterAll(async () => {
  await pg.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  onAuthFailure.mockClear();
});

const charge = () =>
  pg.chargeWithBillingKey({
    paymentId: 'pay_errors_1',
    billingKey: 'bk_1',
    orderName: 'seat',
    amount: 15_000,
    currency: 'KRW',
    customerId: 'cus_1',
  });
const lookup = () => pg.getPayment('pay_errors_1');
const cancel = () => pg.cancelPayment({ paymentId: 'pay_errors_1', reason: 'refund', idempotencyKey: 'pay_errors_1:cancel:1' });

const pgError = (type: string, extra: Record<string, string> = {}) => ({ type, message: `${type} happened`, ...extra });
const unknown = (reason: string) => ({ kind: 'unknown', reason });

/** Answers that say nothing final, for any operation. */
const NOT_FINAL: Array<{ label: string; status: number; body?: object | string; reason: string }> = [
  { label: '408 without a body', status: 408, reason: 'http_408' },
  { label: '429 without a body', status: 429, reason: 'http_429' },
  { label: '500 INTERNAL_SERVER_ERROR', status: 500, body: pgError('INTERNAL_SERVER_ERROR'), reason: 'INTERNAL_SERVER_ERROR' },
  { label: '502 from a proxy', status: 502, body: '<html>Bad Gateway</html>', reason: 'http_502' },
  { label: '503 without a body', status: 503, reason: 'http_503' },
  { label: '418 TEAPOT (a type PortOne does not name)', status: 418, body: pgError('TEAPOT'), reason: 'TEAPOT' },
  { label: '400 without a PortOne body', status: 400, body: '<html>Bad Request</html>', reason: 'http_400' },
];

/** 401/403: our secret or store is wrong; never final, always reported. */
const AUTH_FAILURES = [
  { label: '401 UNAUTHORIZED', status: 401, body: pgError('UNAUTHORIZED'), reason: 'pg_unauthorized' },
  { label: '403 FORBIDDEN', status: 403, body: pgError('FORBIDDEN'), reason: 'pg_forbidden' },
];

describe('charge answers', () => {
  it('200 is paid', async () => {
    answer = { status: 200, body: { payment: { pgTxId: 'tx_1', paidAt: '2026-01-01T00:00:00Z' } } };
    expect(await charge()).toEqual({ kind: 'paid', pgTxId: 'tx_1', paidAt: '2026-01-01T00:00:00Z' });
    // No (or no readable) time: settlement falls back to when the payment learned of the charge.
    answer = { status: 200, body: { payment: { pgTxId: 'tx_1', paidAt: 'yesterday' } } };
    expect(await charge()).toEqual({ kind: 'paid', pgTxId: 'tx_1', paidAt: null });
  });

  it.each([
    { label: '400 PG_PROVIDER (the mock PG)', status: 400 },
    { label: '502 PG_PROVIDER (PortOne itself)', status: 502 },
  ])('$label is declined card_declined with the PG’s code', async ({ status }) => {
    answer = { status, body: pgError('PG_PROVIDER', { pgCode: 'LIMIT', pgMessage: 'over the limit' }) };
    expect(await charge()).toEqual({ kind: 'declined', code: 'card_declined', pgCode: 'LIMIT', message: 'over the limit' });
  });

  it('404 BILLING_KEY_NOT_FOUND is declined billing_key_not_found', async () => {
    answer = { status: 404, body: pgError('BILLING_KEY_NOT_FOUND') };
    expect(await charge()).toEqual({
      kind: 'declined',
      code: 'billing_key_not_found',
      pgCode: null,
      message: 'BILLING_KEY_NOT_FOUND happened',
    });
  });

  // Statuses as PortOne's OpenAPI document gives them for payWithBillingKey.
  it.each([
    { status: 400, type: 'INVALID_REQUEST' },
    { status: 400, type: 'PROMOTION_PAY_METHOD_DOES_NOT_MATCH' },
    { status: 400, type: 'DISCOUNT_AMOUNT_EXCEEDS_TOTAL_AMOUNT' },
    { status: 400, type: 'MAX_TRANSACTION_COUNT_REACHED' },
    { status: 404, type: 'CHANNEL_NOT_FOUND' },
    { status: 409, type: 'BILLING_KEY_ALREADY_DELETED' },
    { status: 409, type: 'SUM_OF_PARTS_EXCEEDS_TOTAL_AMOUNT' },
  ])('$status $type is declined pg_rejected naming the type', async ({ status, type }) => {
    answer = { status, body: pgError(type) };
    expect(await charge()).toEqual({ kind: 'declined', code: 'pg_rejected', pgCode: type, message: `${type} happened` });
    expect(onAuthFailure).not.toHaveBeenCalled();
  });

  it.each(AUTH_FAILURES)('$label is unknown and reported as an auth failure', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await charge()).toEqual(unknown(reason));
    expect(onAuthFailure).toHaveBeenCalledExactlyOnceWith('charge', status);
  });

  it('409 ALREADY_PAID is unknown: our charge may have landed', async () => {
    answer = { status: 409, body: pgError('ALREADY_PAID') };
    expect(await charge()).toEqual(unknown('ALREADY_PAID'));
  });

  it('409 PAYMENT_SCHEDULE_ALREADY_EXISTS is unknown: a schedule may still charge this id', async () => {
    answer = { status: 409, body: pgError('PAYMENT_SCHEDULE_ALREADY_EXISTS') };
    expect(await charge()).toEqual(unknown('PAYMENT_SCHEDULE_ALREADY_EXISTS'));
  });

  it.each(NOT_FINAL)('$label is unknown', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await charge()).toEqual(unknown(reason));
    expect(onAuthFailure).not.toHaveBeenCalled();
  });
});

describe('lookup answers', () => {
  it('200 with a known status is found', async () => {
    answer = {
      status: 200,
      body: { id: 'pay_errors_1', status: 'PAID', pgTxId: 'tx_1', paidAt: '2026-01-01T00:00:00Z', amount: { total: 15_000, paid: 15_000, cancelled: 0 } },
    };
    expect(await lookup()).toEqual({
      kind: 'found',
      status: 'PAID',
      pgTxId: 'tx_1',
      paidAt: '2026-01-01T00:00:00Z',
      paidAmount: 15_000,
      cancelledAmount: 0,
      cancelledAt: null,
    });
  });

  it('200 with a status we do not know is unknown', async () => {
    answer = { status: 200, body: { id: 'pay_errors_1', status: 'VIRTUAL_ACCOUNT_ISSUED' } };
    expect(await lookup()).toEqual(unknown('http_200'));
  });

  it('404 PAYMENT_NOT_FOUND is not_found', async () => {
    answer = { status: 404, body: pgError('PAYMENT_NOT_FOUND') };
    expect(await lookup()).toEqual({ kind: 'not_found' });
  });

  it('404 from a proxy is unknown', async () => {
    answer = { status: 404, body: '<html>Not Found</html>' };
    expect(await lookup()).toEqual(unknown('http_404'));
  });

  it('400 INVALID_REQUEST is unknown', async () => {
    answer = { status: 400, body: pgError('INVALID_REQUEST') };
    expect(await lookup()).toEqual(unknown('INVALID_REQUEST'));
  });

  it.each(AUTH_FAILURES)('$label is unknown and reported as an auth failure', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await lookup()).toEqual(unknown(reason));
    expect(onAuthFailure).toHaveBeenCalledExactlyOnceWith('lookup', status);
  });

  it.each(NOT_FINAL)('$label is unknown', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await lookup()).toEqual(unknown(reason));
    expect(onAuthFailure).not.toHaveBeenCalled();
  });
});

describe('cancel answers', () => {
  it('200 is cancelled', async () => {
    answer = { status: 200, body: { cancellation: { id: 'cx_1', status: 'SUCCEEDED', totalAmount: 15_000, cancelledAt: '2026-12-01T14:59:59Z' } } };
    expect(await cancel()).toEqual({ kind: 'cancelled', cancellationId: 'cx_1', amount: 15_000, cancelledAt: '2026-12-01T14:59:59Z' });
    // A time without its offset would be read in this host's zone: it counts as not said.
    answer = { status: 200, body: { cancellation: { id: 'cx_1', totalAmount: 15_000, cancelledAt: '2026-12-01T14:59:59' } } };
    expect(await cancel()).toMatchObject({ kind: 'cancelled', cancelledAt: null });
  });

  // Statuses as PortOne's OpenAPI document gives them for cancelPayment (the mock PG
  // sends PG_PROVIDER as 400).
  it.each([
    { status: 400, type: 'INVALID_REQUEST' },
    { status: 400, type: 'NEGATIVE_PROMOTION_ADJUSTED_CANCEL_AMOUNT' },
    { status: 400, type: 'PROMOTION_DISCOUNT_RETAIN_OPTION_SHOULD_NOT_BE_CHANGED' },
    { status: 404, type: 'PAYMENT_NOT_FOUND' },
    { status: 409, type: 'PAYMENT_NOT_PAID' },
    { status: 409, type: 'PAYMENT_ALREADY_CANCELLED' },
    { status: 409, type: 'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN' },
    { status: 409, type: 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT' },
    { status: 409, type: 'SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT' },
    { status: 409, type: 'CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT' },
    { status: 409, type: 'CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT' },
    { status: 400, type: 'PG_PROVIDER' },
    { status: 502, type: 'PG_PROVIDER' },
  ])('$status $type is refused with that code', async ({ status, type }) => {
    answer = { status, body: pgError(type) };
    expect(await cancel()).toEqual({ kind: 'refused', code: type });
    expect(onAuthFailure).not.toHaveBeenCalled();
  });

  it.each(AUTH_FAILURES)('$label is unknown and reported as an auth failure', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await cancel()).toEqual(unknown(reason));
    expect(onAuthFailure).toHaveBeenCalledExactlyOnceWith('cancel', status);
  });

  it.each(NOT_FINAL)('$label is unknown', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await cancel()).toEqual(unknown(reason));
    expect(onAuthFailure).not.toHaveBeenCalled();
  });
});

describe('payment list answers', () => {
  const list = (cursor: string | null = null, size = 2) =>
    pg.listPayments({ from: '2026-11-29T15:00:00.000Z', until: '2026-12-01T15:00:00.000Z', cursor, size });
  const listed = (id: string, cursor: string) => ({
    payment: { id, status: 'PAID', paidAt: '2026-12-01T01:00:00Z', amount: { total: 1_000, paid: 1_000, cancelled: 0 } },
    cursor,
  });

  it('a full page hands back the cursor of its last payment; a short one ends the list', async () => {
    answer = { status: 200, body: { items: [listed('pay_1', 'c1'), listed('pay_2', 'c2')] } };
    expect(await list()).toEqual({
      kind: 'page',
      items: [
        { paymentId: 'pay_1', status: 'PAID', amount: 1_000, paidAt: '2026-12-01T01:00:00Z' },
        { paymentId: 'pay_2', status: 'PAID', amount: 1_000, paidAt: '2026-12-01T01:00:00Z' },
      ],
      cursor: 'c2',
    });
    answer = { status: 200, body: { items: [listed('pay_3', 'c3')] } };
    expect(await list('c2')).toMatchObject({ kind: 'page', cursor: null });
  });

  it('a payment without an id or an amount makes the page unknown, not a shorter list', async () => {
    answer = { status: 200, body: { items: [{ payment: { status: 'PAID' }, cursor: 'c1' }] } };
    expect(await list()).toEqual(unknown('malformed_list'));
    // A full page that does not say where the next one begins cannot be the end of the list.
    answer = { status: 200, body: { items: [listed('pay_1', 'c1'), { ...listed('pay_2', 'c2'), cursor: undefined }] } };
    expect(await list()).toEqual(unknown('malformed_list'));
    answer = { status: 200, body: { page: 1 } };
    expect(await list()).toEqual(unknown('http_200'));
  });

  it.each(AUTH_FAILURES)('$label is unknown and reported as an auth failure', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await list()).toEqual(unknown(reason));
    expect(onAuthFailure).toHaveBeenCalledExactlyOnceWith('list', status);
  });

  it.each(NOT_FINAL)('$label is unknown', async ({ status, body, reason }) => {
    answer = { status, body };
    expect(await list()).toEqual(unknown(reason));
  });
});
