import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purchase, startHarness, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.createProduct({ id: 'seat-hot', price: 10_000, stock: 50 });
});
afterAll(() => h.close());

describe('stock under contention', () => {
  it('sells exactly the stock to 300 concurrent buyers', async () => {
    // Each buyer's request waits for its payment's outcome (?wait=30) rather than 300 clients
    // polling every 25 ms: that storm, not the sale, is what the database would be measured on.
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => h.pay(`race-${i}`, purchase('seat-hot', 1, 'bk_test_ok', `c-${i}`), '?wait=30')),
    );
    expect(replies.every((r) => r.status === 202)).toBe(true);
    const settled = await Promise.all(replies.map((r) => h.settled(r.body.id, 30_000)));
    const byStatus = settled.reduce<Record<string, number>>((acc, p) => ({ ...acc, [p.status]: (acc[p.status] ?? 0) + 1 }), {});
    expect(byStatus).toEqual({ completed: 50, rejected: 250 });

    expect((await h.request('GET', '/v1/products/seat-hot')).body.stock).toBe(0);
    const db = h.service.db.read;
    const reserved = await db.all(`select payment_id from stock_reservations where status = 'reserved' order by payment_id`);
    const fulfilled = await db.all('select payment_id from fulfilments order by payment_id');
    expect(reserved).toHaveLength(50);
    expect(fulfilled).toEqual(reserved);
    expect(h.mock.ledger().filter((e) => e.status === 'PAID')).toHaveLength(50);
  });
});
