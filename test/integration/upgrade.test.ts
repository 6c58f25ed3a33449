import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { PG_SECRET, startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
afterEach(() => h.close());

/** Snapshots persisted by machine version 1, one per state (see test/unit/payment-upgrade.test.ts). */
const V1: Record<string, { context: Record<string, unknown> }> = JSON.parse(
  readFileSync(new URL('../fixtures/payment-snapshots-v1.json', import.meta.url), 'utf8'),
);

/** The PG took the money of a payment made before the upgrade. */
async function chargedAtPg(paymentId: string): Promise<void> {
  const reply = await request(`${h.config.PG_BASE_URL}/payments/${paymentId}/billing-key`, {
    method: 'POST',
    headers: { authorization: `PortOne ${PG_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ billingKey: 'bk_test_ok', orderName: 'old', amount: { total: 30_000 }, currency: 'KRW' }),
  });
  expect(reply.statusCode).toBe(200);
  await reply.body.dump();
}

/** A payment row as version 1 left it, with its stock held; `dueAt` for one that waits. */
function insertV1Payment(id: string, v1State: string, status: string, dueAt: number | null, fulfilled: boolean): Promise<void> {
  const stored = V1[v1State]!;
  const snapshot = JSON.stringify({ ...stored, context: { ...stored.context, paymentId: id } });
  const now = Date.now();
  return h.service.db.commit.run(async (tx) => {
    await tx.run(
      `insert into payments (id, idempotency_key, request_fingerprint, customer_id, partner_id, amount, currency, items,
         order_name, billing_key, state, status, snapshot, machine_version, due_at, charges_started, created_at, updated_at)
       values (@id, @key, 'f', 'c-1', 'partner-1', 30000, 'KRW', '[{"productId":"seat-1","quantity":1,"unitPrice":30000}]',
         'old', 'bk_test_ok', @state, @status, @snapshot, 1, @dueAt, 1, @now, @now)`,
      { id, key: `key-${id}`, state: v1State, status, snapshot, dueAt, now },
    );
    await tx.run(
      `insert into stock_reservations (payment_id, product_id, quantity, status, created_at) values (@id, 'seat-1', 1, 'reserved', @now)`,
      { id, now },
    );
    await tx.run(`update products set stock = stock - 1 where id = 'seat-1'`);
    if (fulfilled) {
      await tx.run(`insert into fulfilments (payment_id, customer_id, items, created_at) values (@id, 'c-1', '[]', @now)`, { id, now });
    }
  });
}

const machineVersionOf = async (id: string) =>
  (await h.service.db.read.get<{ version: number }>('select machine_version as version from payments where id = @id', { id }))?.version;

describe('payments stored by machine version 1', () => {
  it('carry on after the upgrade: one in flight finishes, a completed one is refunded', async () => {
    h = await startHarness();
    await h.createProduct({ id: 'seat-1', price: 30_000, stock: 5 });
    await chargedAtPg('pay_v1_waiting');
    await chargedAtPg('pay_v1_done');
    // Waiting in inquiry, due now: the scheduler wakes it; the PG says PAID.
    await insertV1Payment('pay_v1_waiting', 'inquiring.waiting', 'processing', Date.now() - 1, false);
    await insertV1Payment('pay_v1_done', 'completed', 'completed', null, true);

    expect((await h.settled('pay_v1_waiting')).status).toBe('completed');
    expect(await machineVersionOf('pay_v1_waiting')).toBe(2);

    const cancel = await h.request('POST', '/v1/payments/pay_v1_done/cancel', {
      body: { reason: 'after the upgrade' },
      headers: { 'idempotency-key': 'c-old' },
    });
    expect(cancel.status).toBe(202);
    expect(await h.settled('pay_v1_done')).toMatchObject({ status: 'cancelled', cancelledAmount: 30_000 });
    expect((await h.request('GET', '/v1/products/seat-1')).body.stock).toBe(4);
  });
});
