import { beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { LeaseLost } from '../../db/lease-fence.ts';
import { insertProduct } from '../../db/products-repo.ts';
import { reserveStock, type ItemQuantity } from '../../db/stock-repo.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useTempDatabase } from '../support/temp-database.ts';

// A batch's reservations are written together after its last job: in one go when every
// product can serve the batch's total, else payment by payment in the order the jobs
// came. Either way each payment gets all its items or none (rule 2), first come first
// served, and an out-of-stock payment is an outcome, not a failure of its batch.

const OWNER = 'instance-a';
const NOW = 1_700_000_000_000;

const database = useTempDatabase('stock-reservation');
let db: Database;

beforeEach(async () => {
  db = await database.connect();
  await db.commit.run(async (tx) => {
    await insertProduct(tx, { id: 'book', name: 'A book', price: 15_000, stock: 3, partnerId: 'p-1', createdAt: 1 });
    await insertProduct(tx, { id: 'seat', name: 'A seat', price: 30_000, stock: 1, partnerId: 'p-1', createdAt: 1 });
    for (const id of ['pay_a', 'pay_b', 'pay_c']) await insertPaymentRow(tx, id, 'reserving', { leaseOwner: OWNER, leaseExpiresAt: NOW + 30_000 });
  });
});

const items = (book: number, seat = 0): ItemQuantity[] => [
  ...(book > 0 ? [{ productId: 'book', quantity: book }] : []),
  ...(seat > 0 ? [{ productId: 'seat', quantity: seat }] : []),
];
/** Reservations queued in the same tick: one batch, in this order. */
const reserveTogether = (orders: Array<[string, ItemQuantity[]]>) =>
  Promise.allSettled(orders.map(([paymentId, wanted]) => db.commit.run((tx) => reserveStock(tx, { paymentId, owner: OWNER }, wanted, NOW))));
const outcomes = (settled: Array<PromiseSettledResult<{ outcome: string }>>) =>
  settled.map((s) => (s.status === 'fulfilled' ? s.value.outcome : (s.reason as Error).name));
const stock = async () => Object.fromEntries((await db.read.all<{ id: string; stock: number }>('select id, stock from products')).map((p) => [p.id, p.stock]));
const reservations = () =>
  db.read.all<{ paymentId: string; productId: string; quantity: number }>(
    'select payment_id as "paymentId", product_id as "productId", quantity from stock_reservations order by payment_id, product_id',
  );

describe('a batch of reservations', () => {
  it('takes the whole batch when every product can serve its total', async () => {
    expect(outcomes(await reserveTogether([['pay_a', items(1, 1)], ['pay_b', items(2)]]))).toEqual(['reserved', 'reserved']);
    expect(await stock()).toEqual({ book: 0, seat: 0 });
    expect(await reservations()).toEqual([
      { paymentId: 'pay_a', productId: 'book', quantity: 1 },
      { paymentId: 'pay_a', productId: 'seat', quantity: 1 },
      { paymentId: 'pay_b', productId: 'book', quantity: 2 },
    ]);
  });

  it('serves a short product first come first served, each payment all or none, and commits the rest of the batch', async () => {
    const settled = await reserveTogether([
      ['pay_a', items(1, 1)],
      ['pay_b', items(1, 1)],
      ['pay_c', items(2)],
    ]);
    // pay_b's book fits, but the seat went to pay_a: pay_b gives its book back, and pay_c gets it.
    expect(outcomes(settled)).toEqual(['reserved', 'out_of_stock', 'reserved']);
    expect(await stock()).toEqual({ book: 0, seat: 0 });
    expect((await reservations()).map((r) => r.paymentId)).toEqual(['pay_a', 'pay_a', 'pay_c']);
  });

  it('lets a later, smaller payment take what an earlier one could not', async () => {
    const settled = await reserveTogether([
      ['pay_a', items(4)],
      ['pay_b', items(3)],
    ]);
    expect(outcomes(settled)).toEqual(['out_of_stock', 'reserved']);
    expect(await stock()).toEqual({ book: 0, seat: 1 });
  });

  it('takes once for a payment twice in the batch (a restarted actor beside its predecessor)', async () => {
    expect(outcomes(await reserveTogether([['pay_a', items(2)], ['pay_a', items(2)]]))).toEqual(['reserved', 'reserved']);
    expect(await stock()).toEqual({ book: 1, seat: 1 });
    expect(await reservations()).toEqual([{ paymentId: 'pay_a', productId: 'book', quantity: 2 }]);
  });

  it('refuses the payment whose lease another process took, and reserves the others', async () => {
    await db.commit.run((tx) => tx.run("update payments set lease_owner = 'instance-b' where id = 'pay_b'"));
    const settled = await reserveTogether([
      ['pay_a', items(1)],
      ['pay_b', items(1)],
      ['pay_c', items(1)],
    ]);
    expect(outcomes(settled)).toEqual(['reserved', 'LeaseLost', 'reserved']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLost);
    expect(await stock()).toEqual({ book: 1, seat: 1 });
    expect((await reservations()).map((r) => r.paymentId)).toEqual(['pay_a', 'pay_c']);
  });
});
