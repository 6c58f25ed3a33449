import Database from 'better-sqlite3';
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
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => h.pay(`race-${i}`, purchase('seat-hot', 1, 'bk_test_ok', `c-${i}`))),
    );
    expect(replies.every((r) => r.status === 202)).toBe(true);
    const settled = await Promise.all(replies.map((r) => h.settled(r.body.id, 30_000)));
    const byStatus = settled.reduce<Record<string, number>>((acc, p) => ({ ...acc, [p.status]: (acc[p.status] ?? 0) + 1 }), {});
    expect(byStatus).toEqual({ completed: 50, rejected: 250 });

    expect((await h.request('GET', '/v1/products/seat-hot')).body.stock).toBe(0);
    const db = new Database(h.dbPath, { readonly: true });
    const reserved = db.prepare(`select payment_id from stock_reservations where status = 'reserved' order by payment_id`).all();
    const fulfilled = db.prepare('select payment_id from fulfilments order by payment_id').all();
    db.close();
    expect(reserved).toHaveLength(50);
    expect(fulfilled).toEqual(reserved);
    expect(h.mock.ledger().filter((e) => e.status === 'PAID')).toHaveLength(50);
  });
});
