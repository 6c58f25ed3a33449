import { LEASE_HELD, LEASE_HELD_BY_ROW, leaseLost, requireLease, type Fence } from './lease-fence.ts';
import { ADVISORY_LOCKS } from './locks-repo.ts';
import { jsonRows, type BatchWrite, type Sql, type Tx } from './sql.ts';

export interface ItemQuantity {
  productId: string;
  quantity: number;
}

/** A payment's reservation, handed to the batch's reserve write: `outcome` is final once the job's batch is committed. */
export interface Reservation {
  paymentId: string;
  owner: string;
  items: ItemQuantity[];
  now: number;
  outcome: 'reserved' | 'out_of_stock';
}

/** Conditional, in one statement: correct however many writers decrement the product at once. */
const TAKE_STOCK = 'update products set stock = stock - @quantity where id = @productId and stock >= @quantity';
const GIVE_BACK_STOCK = 'update products set stock = stock + @quantity where id = @productId';

/** Per payment of the batch: whether its fence holds, and whether an earlier run reserved already. */
const FENCES = (q: Sql) => `select r.payment_id as "paymentId",
  case when ${LEASE_HELD_BY_ROW} then 1 else 0 end as leased,
  case when exists (select 1 from stock_reservations where payment_id = r.payment_id) then 1 else 0 end as held
  from ${jsonRows(q, 'rows', { payment_id: 'text', owner: 'text' })}`;

/** Every product's total for the batch taken at once, or nothing when one of them is short. */
const TAKE_ALL = (q: Sql) => `with wanted as (
    select r.product_id, sum(r.quantity) as total from ${jsonRows(q, 'rows', { product_id: 'text', quantity: 'bigint' })} group by r.product_id
  )
  update products set stock = products.stock - wanted.total from wanted
  where products.id = wanted.product_id
    and not exists (select 1 from wanted w left join products p on p.id = w.product_id where p.id is null or p.stock < w.total)`;

const RESERVATION_COLUMNS = { payment_id: 'text', product_id: 'text', quantity: 'bigint', created_at: 'bigint' } as const;
const INSERT_RESERVATIONS = (q: Sql) => `insert into stock_reservations (payment_id, product_id, quantity, status, created_at)
  select r.payment_id, r.product_id, r.quantity, 'reserved', r.created_at from ${jsonRows(q, 'rows', RESERVATION_COLUMNS)} order by r.ord`;

/** Takes every item or none, one conditional decrement each: for a batch whose products cannot all be served. */
async function takeEach(q: Sql, items: ItemQuantity[]): Promise<boolean> {
  const taken: ItemQuantity[] = [];
  for (const item of items) {
    if ((await q.run(TAKE_STOCK, { ...item })) === 0) {
      for (const back of taken) await q.run(GIVE_BACK_STOCK, { ...back });
      return false;
    }
    taken.push(item);
  }
  return true;
}

/**
 * Reserves the batch's payments, first come first served, each all or none (rule 2). In
 * the common case three statements for the whole batch: the fences, the totals taken at
 * once, the reservation rows. When a product cannot serve the batch's total, each
 * payment takes its items in turn instead, and those short of stock end out_of_stock.
 * A payment whose lease is gone is refused (LeaseLost); one that holds reservations from
 * an earlier run is reserved and takes nothing (rule 3); a payment twice in the batch
 * (a restarted actor's run beside its predecessor's) takes once.
 */
const reserveAll: BatchWrite<Reservation> = async (q, rows) => {
  const refused = new Map<Reservation, Error>();
  const fences = new Map(
    (
      await q.all<{ paymentId: string; leased: number; held: number }>(FENCES(q), {
        rows: JSON.stringify(rows.map((row) => ({ payment_id: row.paymentId, owner: row.owner }))),
      })
    ).map((fence) => [fence.paymentId, fence]),
  );
  const first = new Map<string, Reservation>();
  const taking: Reservation[] = [];
  for (const row of rows) {
    if (first.has(row.paymentId)) continue;
    first.set(row.paymentId, row);
    const fence = fences.get(row.paymentId);
    if (fence?.leased !== 1) refused.set(row, leaseLost(row));
    else if (fence.held === 1) row.outcome = 'reserved';
    else taking.push(row);
  }
  const lines = taking.flatMap((row) => row.items.map((item) => ({ product_id: item.productId, quantity: item.quantity })));
  const products = new Set(lines.map((line) => line.product_id)).size;
  const tookAll = products > 0 && (await q.run(TAKE_ALL(q), { rows: JSON.stringify(lines) })) === products;
  for (const row of taking) if (tookAll || (await takeEach(q, row.items))) row.outcome = 'reserved';
  const reserved = taking.filter((row) => row.outcome === 'reserved');
  if (reserved.length > 0) {
    const reservations = reserved.flatMap((row) =>
      row.items.map((item) => ({ payment_id: row.paymentId, product_id: item.productId, quantity: item.quantity, created_at: row.now })),
    );
    await q.run(INSERT_RESERVATIONS(q), { rows: JSON.stringify(reservations) });
  }
  for (const row of rows) {
    const earlier = first.get(row.paymentId)!;
    if (earlier === row) continue;
    const refusal = refused.get(earlier);
    if (refusal) refused.set(row, refusal);
    else row.outcome = earlier.outcome;
  }
  return refused;
};

/**
 * Reserves the payment's items, with the batch's other reservations (see `reserveAll`):
 * read the outcome once the job's batch is committed. Fenced: the job fails with
 * LeaseLost when another process holds the payment now.
 */
export async function reserveStock(q: Tx, fence: Fence, items: ItemQuantity[], now: number): Promise<Reservation> {
  // Held until the batch ends: stock changes are serialised across processes, and the batch
  // write sees the reservations of any run that committed while this one waited for it.
  await q.holdLock(ADVISORY_LOCKS.hotRows);
  // Out of stock until the batch write says otherwise: a reservation it never saw takes nothing.
  const reservation: Reservation = { ...fence, items, now, outcome: 'out_of_stock' };
  await q.later(reserveAll, reservation);
  return reservation;
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
