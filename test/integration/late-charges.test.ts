import { afterEach, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../scripts/invariants/check-invariants.ts';
import { eventually } from '../support/alert-receiver.ts';
import { purchase, startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
afterEach(() => h.close());

/**
 * One charge call allowed, answered by nobody: the request is held on its way to the PG
 * (a queue at the PG or a proxy) past the service's deadline and the not-found grace, so
 * the payment gives up and fails; then the request reaches the PG and the card is charged.
 */
async function chargeThatLandsLate(env: Record<string, string>, mock: { webhooks?: boolean } = {}) {
  h = await startHarness({ MAX_CHARGE_ATTEMPTS: '1', PG_TIMEOUT_MS: '300', ...env }, {}, { proxy: true });
  if (mock.webhooks) h.mock.setWebhookUrl(`${h.url}/v1/pg/webhooks`);
  await h.createProduct({ id: 'seat-1', price: 50_000, stock: 1 });
  h.proxy!.holdNext('POST', /\/billing-key$/, 1_500);
  const { body } = await h.pay('k-late', purchase('seat-1'));
  const failed = await h.settled(body.id);
  expect(failed).toMatchObject({ status: 'failed', failureCode: 'charge_not_received' });
  // The seat went back on sale when the payment failed.
  expect((await h.request('GET', '/v1/products/seat-1')).body.stock).toBe(1);
  return body.id as string;
}

const payment = async (id: string) => (await h.request('GET', `/v1/payments/${id}`)).body;
const states = async (id: string): Promise<string[]> =>
  (await h.request('GET', `/v1/payments/${id}/events`)).body.data.map((e: { to: string }) => e.to);
const ledgerOf = (id: string) => h.mock.ledger().find((e) => e.paymentId === id);

describe('a charge that lands after the payment gave up', () => {
  it('is found by the durable late-charge checks and voided: cancelled, late_charge_voided', async () => {
    const id = await chargeThatLandsLate({ LATE_CHARGE_WINDOW_MS: '4000', LATE_CHARGE_CHECKS: '3' });
    const watched = await h.service.db.read.get<{ dueAt: unknown }>('select due_at as "dueAt" from payments where id = @id', { id });
    expect(watched?.dueAt).toBeTypeOf('number');

    const ended = await eventually(async () => {
      const now = await payment(id);
      return now.status === 'cancelled' && now;
    });
    expect(ended).toMatchObject({ failureCode: 'late_charge_voided', cancelledAmount: 50_000 });
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED', paidAmount: 50_000, cancelledAmount: 50_000, charges: 1 });
    const path = await states(id);
    expect(path).toEqual(expect.arrayContaining(['failed.watching', 'failed.checking', 'voidingLateCharge.voiding', 'cancelled']));
    expect(path.indexOf('voidingLateCharge.voiding')).toBeGreaterThan(path.indexOf('failed.watching'));
    const alert = await h.service.db.read.get(`select severity, title from alerts where payment_id = @id`, { id });
    expect(alert).toMatchObject({ severity: 'warning', title: expect.stringContaining('charged after it failed') });
    expect((await h.request('GET', '/v1/products/seat-1')).body.stock).toBe(1);
    await h.service.host.committed();
    const report = await checkInvariants(h.service.db.read, h.mock.ledger());
    expect(report.violations).toEqual([]);
  });

  it('is voided as soon as the PG’s webhook reports it, without waiting for a check', async () => {
    // A day-long window: only the webhook can bring the void within the test.
    const id = await chargeThatLandsLate({}, { webhooks: true });
    const ended = await eventually(async () => {
      const now = await payment(id);
      return now.status === 'cancelled' && now;
    });
    expect(ended.failureCode).toBe('late_charge_voided');
    expect(ledgerOf(id)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 50_000 });
    const log = (await h.request('GET', `/v1/payments/${id}/events`)).body.data as Array<{ type: string; to: string }>;
    expect(log.find((e) => e.to === 'voidingLateCharge.voiding')?.type).toBe('pg.status');
  });

  it('leaves a declined payment unwatched: an answered charge cannot land later', async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 50_000, stock: 1 });
    const { body } = await h.pay('k-declined', purchase('seat-1', 1, 'bk_test_decline'), '?wait=10');
    expect(body.status).toBe('failed');
    await h.service.host.committed();
    const row = await h.service.db.read.get('select state, due_at as "dueAt", active from payments where id = @id', { id: body.id });
    expect(row).toEqual({ state: 'failed.closed', dueAt: null, active: 0 });
    // The log says why, in words.
    const log = (await h.request('GET', `/v1/payments/${body.id}/events`)).body.data as Array<{ reason: string; to: string }>;
    expect(log.map((e) => [e.reason, e.to])).toEqual([
      ['api.create', 'reserving.reservingStock'],
      ['stock.reserved', 'charging.calling'],
      ['pg.declined card_declined', 'releasing.releasingStock'],
      ['stock.released', 'failed.closed'],
    ]);
  });
});
