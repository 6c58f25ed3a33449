import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Payment, PaymentClient, Webhook } from '@portone/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockPg, type MockPg } from '../../src/mock-pg/mock-pg.ts';

// The official SDK is the judge: if it can talk to the mock, so can the service.

const SECRET = 'contract-test-secret';
const STORE_ID = 'store-contract-test';
const WEBHOOK_SECRET = `whsec_${Buffer.from('contract-test-webhook-secret').toString('base64')}`;

interface ReceivedWebhook {
  body: string;
  headers: IncomingHttpHeaders;
}

/** A plain HTTP server standing in for the service's webhook endpoint. */
async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function eventually<T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let mockPg: MockPg;
let baseUrl: string;
let client: ReturnType<typeof PaymentClient>;
let lastId = 0;
const newPaymentId = () => `pay_contract_${Date.now()}_${++lastId}`;

const ORDER = { orderName: 'Course seat', amount: { total: 30_000 }, currency: 'KRW', customer: { id: 'cust_1' } } as const;
const charge = (paymentId: string, billingKey = 'bk_test_ok') =>
  client.payWithBillingKey({ paymentId, billingKey, ...ORDER });

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  mockPg = createMockPg({ secret: SECRET, storeId: STORE_ID, webhookSecret: WEBHOOK_SECRET, webhookUrl: receiver.url });
  baseUrl = await mockPg.listen(0);
  client = PaymentClient({ secret: SECRET, baseUrl, storeId: STORE_ID });
});

afterAll(async () => {
  await mockPg.close();
  await receiver.close();
});

describe('payWithBillingKey', () => {
  it('charges and answers with pgTxId and paidAt', async () => {
    const paymentId = newPaymentId();
    const result = await charge(paymentId);

    expect(result.payment.pgTxId).toMatch(/^pgtx_/);
    expect(Number.isNaN(Date.parse(result.payment.paidAt))).toBe(false);
    expect(mockPg.ledger().find((entry) => entry.paymentId === paymentId)).toMatchObject({
      status: 'PAID',
      paidAmount: 30_000,
      charges: 1,
      pgTxId: result.payment.pgTxId,
    });
  });

  it('throws PayWithBillingKeyError of type PG_PROVIDER on a decline', async () => {
    const err = await rejectionOf(charge(newPaymentId(), 'bk_test_decline'));

    expect(err).toBeInstanceOf(Payment.PayWithBillingKeyError);
    expect((err as Payment.PayWithBillingKeyError).data).toMatchObject({ type: 'PG_PROVIDER', pgCode: 'CARD_DECLINED' });
  });

  it('refuses a second charge of a paid id with ALREADY_PAID and charges once', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);

    const err = await rejectionOf(charge(paymentId));

    expect(err).toBeInstanceOf(Payment.PayWithBillingKeyError);
    expect((err as Payment.PayWithBillingKeyError).data.type).toBe('ALREADY_PAID');
    expect(mockPg.ledger().find((entry) => entry.paymentId === paymentId)?.charges).toBe(1);
  });

  it('charges a failed id again', async () => {
    const paymentId = newPaymentId();
    await rejectionOf(charge(paymentId, 'bk_test_decline'));

    await charge(paymentId);

    expect(mockPg.ledger().find((entry) => entry.paymentId === paymentId)).toMatchObject({ status: 'PAID', charges: 1 });
  });

  it('throws BILLING_KEY_NOT_FOUND for bk_test_missing and records nothing', async () => {
    const paymentId = newPaymentId();
    const err = await rejectionOf(charge(paymentId, 'bk_test_missing'));

    expect(err).toBeInstanceOf(Payment.PayWithBillingKeyError);
    expect((err as Payment.PayWithBillingKeyError).data.type).toBe('BILLING_KEY_NOT_FOUND');
    expect(mockPg.ledger().some((entry) => entry.paymentId === paymentId)).toBe(false);
  });

  it('throws INVALID_REQUEST for a non-integer amount', async () => {
    const err = await rejectionOf(
      client.payWithBillingKey({ paymentId: newPaymentId(), billingKey: 'bk_test_ok', ...ORDER, amount: { total: 10.5 } }),
    );

    expect((err as Payment.PayWithBillingKeyError).data.type).toBe('INVALID_REQUEST');
  });
});

describe('getPayment', () => {
  it('returns a PAID payment with its amounts', async () => {
    const paymentId = newPaymentId();
    const { payment: summary } = await charge(paymentId);

    const payment = await client.getPayment({ paymentId });

    expect(payment).toMatchObject({
      status: 'PAID',
      id: paymentId,
      storeId: STORE_ID,
      version: 'V2',
      channel: { type: 'LIVE' },
      orderName: ORDER.orderName,
      currency: 'KRW',
      customer: { id: 'cust_1' },
      amount: { total: 30_000, paid: 30_000, cancelled: 0, taxFree: 0, discount: 0, cancelledTaxFree: 0 },
      pgTxId: summary.pgTxId,
      paidAt: summary.paidAt,
      disputes: [],
    });
  });

  it('returns a FAILED payment with its failure', async () => {
    const paymentId = newPaymentId();
    await rejectionOf(charge(paymentId, 'bk_test_decline'));

    const payment = await client.getPayment({ paymentId });

    expect(payment).toMatchObject({ status: 'FAILED', id: paymentId, amount: { total: 30_000, paid: 0 } });
    expect(payment.status === 'FAILED' && payment.failure.pgCode).toBe('CARD_DECLINED');
  });

  it('throws PAYMENT_NOT_FOUND for an unknown id', async () => {
    const err = await rejectionOf(client.getPayment({ paymentId: newPaymentId() }));

    expect(err).toBeInstanceOf(Payment.GetPaymentError);
    expect((err as Payment.GetPaymentError).data.type).toBe('PAYMENT_NOT_FOUND');
  });
});

describe('cancelPayment', () => {
  it('cancels a whole payment when no amount is given', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);

    const { cancellation } = await client.cancelPayment({ paymentId, reason: 'customer changed their mind' });

    expect(cancellation).toMatchObject({ status: 'SUCCEEDED', totalAmount: 30_000, taxFreeAmount: 0, vatAmount: 0 });
    expect(await client.getPayment({ paymentId })).toMatchObject({
      status: 'CANCELLED',
      amount: { paid: 30_000, cancelled: 30_000 },
      cancellations: [{ id: cancellation.status === 'SUCCEEDED' ? cancellation.id : '' }],
    });
  });

  it('cancels part of a payment, then the rest', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);

    await client.cancelPayment({ paymentId, amount: 10_000, reason: 'one seat returned' });
    expect(await client.getPayment({ paymentId })).toMatchObject({
      status: 'PARTIAL_CANCELLED',
      amount: { paid: 30_000, cancelled: 10_000 },
    });

    const { cancellation } = await client.cancelPayment({ paymentId, reason: 'order cancelled' });
    expect(cancellation).toMatchObject({ totalAmount: 20_000 });
    expect(await client.getPayment({ paymentId })).toMatchObject({ status: 'CANCELLED', amount: { cancelled: 30_000 } });
  });

  it('throws CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT for too much', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);

    const err = await rejectionOf(client.cancelPayment({ paymentId, amount: 30_001, reason: 'too much' }));

    expect(err).toBeInstanceOf(Payment.CancelPaymentError);
    expect((err as Payment.CancelPaymentError).data.type).toBe('CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT');
  });

  it('throws PAYMENT_ALREADY_CANCELLED for a cancelled payment', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);
    await client.cancelPayment({ paymentId, reason: 'first' });

    const err = await rejectionOf(client.cancelPayment({ paymentId, reason: 'second' }));

    expect((err as Payment.CancelPaymentError).data.type).toBe('PAYMENT_ALREADY_CANCELLED');
  });

  it('throws PAYMENT_NOT_PAID for a failed payment', async () => {
    const paymentId = newPaymentId();
    await rejectionOf(charge(paymentId, 'bk_test_decline'));

    const err = await rejectionOf(client.cancelPayment({ paymentId, reason: 'nothing to cancel' }));

    expect((err as Payment.CancelPaymentError).data.type).toBe('PAYMENT_NOT_PAID');
  });

  it('throws PAYMENT_NOT_FOUND for an unknown id', async () => {
    const err = await rejectionOf(client.cancelPayment({ paymentId: newPaymentId(), reason: 'unknown' }));

    expect((err as Payment.CancelPaymentError).data.type).toBe('PAYMENT_NOT_FOUND');
  });
});

describe('authentication', () => {
  it('answers 401 UNAUTHORIZED to a wrong secret', async () => {
    const stranger = PaymentClient({ secret: 'not-the-secret', baseUrl });
    const err = await rejectionOf(stranger.getPayment({ paymentId: newPaymentId() }));

    expect((err as Payment.GetPaymentError).data.type).toBe('UNAUTHORIZED');
    const response = await fetch(`${baseUrl}/payments/any`, { headers: { authorization: 'PortOne not-the-secret' } });
    expect(response.status).toBe(401);
  });
});

describe('webhooks', () => {
  const webhookFor = (paymentId: string, type: string) =>
    eventually(() =>
      receiver.received.find((webhook) => {
        const body = JSON.parse(webhook.body) as { type: string; data: { paymentId: string } };
        return body.type === type && body.data.paymentId === paymentId;
      }),
    );

  it('sends a verifiable Transaction.Paid', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);

    const webhook = await webhookFor(paymentId, 'Transaction.Paid');

    expect(await Webhook.verify(WEBHOOK_SECRET, webhook.body, webhook.headers)).toMatchObject({
      type: 'Transaction.Paid',
      data: { paymentId, storeId: STORE_ID },
    });
    expect(webhook.headers['content-type']).toBe('application/json');
  });

  it('sends a verifiable Transaction.Failed', async () => {
    const paymentId = newPaymentId();
    await rejectionOf(charge(paymentId, 'bk_test_decline'));

    const webhook = await webhookFor(paymentId, 'Transaction.Failed');

    expect(await Webhook.verify(WEBHOOK_SECRET, webhook.body, webhook.headers)).toMatchObject({
      data: { paymentId, storeId: STORE_ID },
    });
  });

  it('sends a verifiable Transaction.Cancelled naming the cancellation', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);
    const { cancellation } = await client.cancelPayment({ paymentId, reason: 'refund' });

    const webhook = await webhookFor(paymentId, 'Transaction.Cancelled');

    expect(await Webhook.verify(WEBHOOK_SECRET, webhook.body, webhook.headers)).toMatchObject({
      data: { paymentId, storeId: STORE_ID, cancellationId: cancellation.status === 'SUCCEEDED' ? cancellation.id : '' },
    });
  });

  it('sends a verifiable Transaction.PartialCancelled', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);
    await client.cancelPayment({ paymentId, amount: 1_000, reason: 'partial refund' });

    const webhook = await webhookFor(paymentId, 'Transaction.PartialCancelled');

    expect(await Webhook.verify(WEBHOOK_SECRET, webhook.body, webhook.headers)).toMatchObject({
      type: 'Transaction.PartialCancelled',
      data: { paymentId, storeId: STORE_ID },
    });
  });

  it('signs so that another secret fails verification', async () => {
    const paymentId = newPaymentId();
    await charge(paymentId);
    const webhook = await webhookFor(paymentId, 'Transaction.Paid');

    const otherSecret = `whsec_${Buffer.from('some-other-secret').toString('base64')}`;
    await expect(Webhook.verify(otherSecret, webhook.body, webhook.headers)).rejects.toBeInstanceOf(
      Webhook.WebhookVerificationError,
    );
  });
});

describe('listing payments', () => {
  // A PG of its own, so that the payments of the other tests stay out of its lists.
  let listPg: MockPg;
  let lister: ReturnType<typeof PaymentClient>;
  const T0 = Date.parse('2025-01-05T00:00:00.000Z');
  const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

  // 25 payments a minute apart, except that every fifth shares the minute of the one before
  // (ids break the tie). Some failed; some were cancelled later, so their status changed now.
  const SEEDS = Array.from({ length: 25 }, (_, i) => ({
    id: `pay_list_${String(i).padStart(2, '0')}`,
    minute: i % 5 === 4 ? i - 1 : i,
    status: i % 5 === 2 ? 'FAILED' : i % 6 === 5 ? 'CANCELLED' : 'PAID',
  }));
  const idsOf = (status: string) => SEEDS.filter((seed) => seed.status === status).map((seed) => seed.id);
  const creationOrder = SEEDS.map((seed) => seed.id);
  // The SDK's Payment union also holds a variant for statuses it does not know, which has no id.
  const idOf = (payment: Payment.Payment) => ('id' in payment ? payment.id : 'a payment of an unknown status');
  const window = { from: at(0), until: at(60) };
  let seededAt: string;

  beforeAll(async () => {
    listPg = createMockPg({ secret: SECRET, storeId: STORE_ID, webhookSecret: WEBHOOK_SECRET });
    lister = PaymentClient({ secret: SECRET, baseUrl: await listPg.listen(0), storeId: STORE_ID });
    seededAt = new Date().toISOString();
    // Newest first, so the store's own order is not already the answer.
    for (const seed of [...SEEDS].reverse()) {
      const failed = seed.status === 'FAILED';
      listPg.editLedger(seed.id, { amount: 1_000, requestedAt: at(seed.minute), status: failed ? 'FAILED' : 'PAID' });
      if (seed.status === 'CANCELLED') listPg.editLedger(seed.id, { status: 'CANCELLED' });
    }
  });

  afterAll(() => listPg.close());

  describe('getAllPaymentsByCursor', () => {
    it('pages with cursors through every payment once, in creation order', async () => {
      const pages: string[][] = [];
      let cursor: string | undefined;
      // Bounded, so a cursor that does not move on fails the test instead of hanging it.
      for (let round = 0; round < 10; round += 1) {
        const { items } = await lister.getAllPaymentsByCursor({ ...window, size: 7, cursor });
        if (items.length === 0) break;
        pages.push(items.map((item) => idOf(item.payment)));
        cursor = items.at(-1)!.cursor;
      }

      expect(pages.map((page) => page.length)).toEqual([7, 7, 7, 4]);
      expect(pages.flat()).toEqual(creationOrder);
    });

    it('gives each payment exactly as getPayment does', async () => {
      const { items } = await lister.getAllPaymentsByCursor({ ...window, size: 1000 });

      expect(items).toHaveLength(25);
      for (const { payment } of items) expect(payment).toEqual(await lister.getPayment({ paymentId: idOf(payment) }));
    });

    it('bounds by creation time, from inclusive and until exclusive', async () => {
      const { items } = await lister.getAllPaymentsByCursor({ from: at(3), until: at(10), size: 1000 });

      // pay_list_04 was created in minute 3 too; pay_list_10 exactly at until.
      expect(items.map((item) => idOf(item.payment))).toEqual(creationOrder.slice(3, 10));
    });

    it('defaults to the 90 days until now, and to pages of 10', async () => {
      const day = 24 * 60 * 60 * 1000;
      const inside = newPaymentId();
      const outside = newPaymentId();
      listPg.editLedger(inside, { amount: 500, requestedAt: new Date(Date.now() - 89 * day).toISOString() });
      listPg.editLedger(outside, { amount: 500, requestedAt: new Date(Date.now() - 91 * day).toISOString() });
      const justCharged = newPaymentId();
      await lister.payWithBillingKey({ paymentId: justCharged, billingKey: 'bk_test_ok', ...ORDER });

      const { items } = await lister.getAllPaymentsByCursor();
      const ids = items.map((item) => idOf(item.payment));

      expect(ids).toEqual([inside, justCharged]);
      expect((await lister.getAllPaymentsByCursor({ from: at(0) })).items).toHaveLength(10);
      listPg.removeFromLedger(inside);
      listPg.removeFromLedger(outside);
      listPg.removeFromLedger(justCharged);
    });

    it('throws GetAllPaymentsError INVALID_REQUEST for a size over 1000', async () => {
      const err = await rejectionOf(lister.getAllPaymentsByCursor({ ...window, size: 1001 }));

      expect(err).toBeInstanceOf(Payment.GetAllPaymentsError);
      expect((err as Payment.GetAllPaymentsError).data.type).toBe('INVALID_REQUEST');
    });

    it('throws GetAllPaymentsError FORBIDDEN for another store', async () => {
      const err = await rejectionOf(lister.getAllPaymentsByCursor({ ...window, storeId: 'store-of-someone-else' }));

      expect(err).toBeInstanceOf(Payment.GetAllPaymentsError);
      expect((err as Payment.GetAllPaymentsError).data.type).toBe('FORBIDDEN');
    });
  });

  describe('getPayments', () => {
    const everything = { number: 0, size: 1000 };

    it('filters on creation time with CREATED_AT, newest first by default', async () => {
      const { items, page } = await lister.getPayments({ page: everything, filter: { ...window, timestampType: 'CREATED_AT' } });

      expect(items.map(idOf)).toEqual([...creationOrder].reverse());
      expect(page).toEqual({ number: 0, size: 1000, totalCount: 25 });
    });

    it('filters on the status change by default, so a payment cancelled now leaves its creation window', async () => {
      const { items } = await lister.getPayments({ page: everything, filter: window });
      const cancelledNow = await lister.getPayments({ page: everything, filter: { from: seededAt, status: ['CANCELLED'] } });

      expect(items.map(idOf).sort()).toEqual(creationOrder.filter((id) => !idsOf('CANCELLED').includes(id)));
      expect(cancelledNow.items.map(idOf).sort()).toEqual(idsOf('CANCELLED'));
    });

    it('filters on status', async () => {
      const failed = await lister.getPayments({ page: everything, filter: { ...window, timestampType: 'CREATED_AT', status: ['FAILED'] } });
      const settled = await lister.getPayments({
        page: everything,
        filter: { ...window, timestampType: 'CREATED_AT', status: ['PAID', 'CANCELLED'], sortOrder: 'ASC' },
      });

      expect(failed.items.map(idOf).sort()).toEqual(idsOf('FAILED'));
      expect(failed.items.every((payment) => payment.status === 'FAILED')).toBe(true);
      expect(settled.items.map(idOf)).toEqual(creationOrder.filter((id) => !idsOf('FAILED').includes(id)));
    });

    it('sorts ASC on request, and by the status change with sortBy STATUS_CHANGED_AT', async () => {
      const ascending = await lister.getPayments({ page: everything, filter: { ...window, timestampType: 'CREATED_AT', sortOrder: 'ASC' } });
      const byChange = await lister.getPayments({
        page: everything,
        filter: { ...window, timestampType: 'CREATED_AT', sortBy: 'STATUS_CHANGED_AT' },
      });

      expect(ascending.items.map(idOf)).toEqual(creationOrder);
      // Cancelled now: the latest status changes of all, so first when newest come first.
      const cancelled = idsOf('CANCELLED');
      expect(byChange.items.slice(0, cancelled.length).map(idOf).sort()).toEqual(cancelled);
    });

    it('pages from number 0, totalCount being the number of payments returned', async () => {
      const filter = { ...window, timestampType: 'CREATED_AT', sortOrder: 'ASC' } as const;

      const second = await lister.getPayments({ page: { number: 1, size: 10 }, filter });
      const last = await lister.getPayments({ page: { number: 2, size: 10 }, filter });
      const beyond = await lister.getPayments({ page: { number: 3, size: 10 }, filter });
      const byDefault = await lister.getPayments({ filter });

      expect(second.items.map(idOf)).toEqual(creationOrder.slice(10, 20));
      expect(second.page).toEqual({ number: 1, size: 10, totalCount: 10 });
      expect(last.items.map(idOf)).toEqual(creationOrder.slice(20));
      expect(last.page).toEqual({ number: 2, size: 10, totalCount: 5 });
      expect(beyond).toEqual({ items: [], page: { number: 3, size: 10, totalCount: 0 } });
      expect(byDefault.page).toEqual({ number: 0, size: 10, totalCount: 10 });
    });

    it('throws GetPaymentsError INVALID_REQUEST for a size over 1000 or a negative page', async () => {
      const tooBig = await rejectionOf(lister.getPayments({ page: { size: 1001 } }));
      const negative = await rejectionOf(lister.getPayments({ page: { number: -1 } }));

      expect(tooBig).toBeInstanceOf(Payment.GetPaymentsError);
      expect((tooBig as Payment.GetPaymentsError).data.type).toBe('INVALID_REQUEST');
      expect((negative as Payment.GetPaymentsError).data.type).toBe('INVALID_REQUEST');
    });
  });
});
