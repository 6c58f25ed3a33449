import { LEASE_HELD, leaseLost, requireLease, type Fence } from './lease-fence.ts';
import { ADVISORY_LOCKS } from './locks-repo.ts';
import { insertEvery, jsonRows, type JsonRow, type Tx } from './sql.ts';

export interface ItemQuantity {
  productId: string;
  quantity: number;
}

/** Whether the fence holds, and whether an earlier run reserved already: one statement. */
const BEFORE_RESERVING = `select case when ${LEASE_HELD} then 1 else 0 end as leased,
  case when exists (select 1 from stock_reservations where payment_id = @paymentId) then 1 else 0 end as held`;
/** Conditional, in one statement: correct however many writers decrement the product at once. */
const TAKE_STOCK = 'update products set stock = stock - @quantity where id = @productId and stock >= @quantity';
/** The first take checks BEFORE_RESERVING's conditions in the same statement: it is asked only when this takes nothing. */
const FIRST_TAKE_STOCK = `${TAKE_STOCK} and ${LEASE_HELD}
  and not exists (select 1 from stock_reservations where payment_id = @paymentId)`;
const GIVE_BACK_STOCK = 'update products set stock = stock + @quantity where id = @productId';

const RESERVATION_COLUMNS = { payment_id: 'text', product_id: 'text', quantity: 'bigint', created_at: 'bigint' } as const;
const insertReservations = insertEvery<JsonRow<typeof RESERVATION_COLUMNS>>(
  (q) => `insert into stock_reservations (payment_id, product_id, quantity, status, created_at)
  select r.payment_id, r.product_id, r.quantity, 'reserved', r.created_at from ${jsonRows(q, 'rows', RESERVATION_COLUMNS)} order by r.ord`,
);

/**
 * Reserves every item or none (rule 2): one conditional decrement per product, then a
 * reservation row per product keyed by (payment, product), written with the batch's
 * others. A product short of stock gives back, in the caller's transaction, what this
 * call already took: the caller's job is atomic but must not fail for want of stock, so
 * there is nothing to roll back to. Running it again for the same payment finds its rows
 * and changes nothing (rule 3). Fenced: LeaseLost when another process holds the payment now.
 */
export async function reserveStock(q: Tx, fence: Fence, items: ItemQuantity[], now: number): Promise<'reserved' | 'out_of_stock'> {
  const { paymentId } = fence;
  // The fence is checked once the lock is held: a wait for it may outlast the lease, or
  // end after another run's reservation committed.
  await q.holdLock(ADVISORY_LOCKS.hotRows);
  const taken: ItemQuantity[] = [];
  for (const [i, { productId, quantity }] of items.entries()) {
    const took = i === 0 ? await q.run(FIRST_TAKE_STOCK, { ...fence, productId, quantity }) : await q.run(TAKE_STOCK, { productId, quantity });
    if (took === 0) {
      if (i === 0) {
        const before = (await q.get<{ leased: number; held: number }>(BEFORE_RESERVING, { ...fence }))!;
        if (before.leased !== 1) throw leaseLost(fence);
        if (before.held === 1) return 'reserved';
      }
      for (const item of taken) await q.run(GIVE_BACK_STOCK, { productId: item.productId, quantity: item.quantity });
      return 'out_of_stock';
    }
    taken.push({ productId, quantity });
  }
  for (const item of taken) {
    await q.later(insertReservations, { payment_id: paymentId, product_id: item.productId, quantity: item.quantity, created_at: now });
  }
  return 'reserved';
}

/** Marks the payment's held reservations released, in one statement: two releases never both see one held. */
const RELEASE_RESERVATIONS = `update stock_reservations set status = 'released', released_at = @now
  where payment_id = @paymentId and status = 'reserved' and ${LEASE_HELD} returning product_id as "productId", quantity`;

/**
 * Returns the payment's reserved stock; a released reservation is never released twice.
 * Fenced: LeaseLost when another process holds the payment now.
 */
export async function releaseStock(q: Tx, fence: Fence, now: number): Promise<number> {
  const released = await q.all<ItemQuantity>(RELEASE_RESERVATIONS, { ...fence, now });
  if (released.length === 0) await requireLease(q, fence);
  else await q.holdLock(ADVISORY_LOCKS.hotRows);
  for (const { productId, quantity } of released) await q.run(GIVE_BACK_STOCK, { productId, quantity });
  return released.length;
}
