import { and, eq, sql } from 'drizzle-orm';
import type { Connection } from './connection.ts';
import { prepared } from './prepared.ts';
import { products, stockReservations } from './schema.ts';

export interface ItemQuantity {
  productId: string;
  quantity: number;
}

class OutOfStock extends Error {}

/**
 * Reserves every item or none (rule 2): one conditional decrement per product plus a
 * reservation row keyed by (payment, product), in one savepoint. Running it again for
 * the same payment finds its rows and changes nothing (rule 3).
 */
export function reserveStock(
  { sqlite, db }: Connection,
  paymentId: string,
  items: ItemQuantity[],
  now: number,
): 'reserved' | 'out_of_stock' {
  const heldBefore = prepared(db, 'countReservations', () =>
    db.$client.prepare('select exists(select 1 from stock_reservations where payment_id = ?) as held').pluck(),
  );
  if (heldBefore.get(paymentId) === 1) return 'reserved';
  const take = prepared(db, 'takeStock', () =>
    db.$client.prepare('update products set stock = stock - @quantity where id = @productId and stock >= @quantity'),
  );
  const hold = prepared(db, 'insertReservation', () =>
    db.$client.prepare(`insert into stock_reservations (payment_id, product_id, quantity, status, created_at)
      values (@paymentId, @productId, @quantity, 'reserved', @now)`),
  );
  try {
    sqlite.transaction(() => {
      for (const { productId, quantity } of items) {
        if (take.run({ productId, quantity }).changes === 0) throw new OutOfStock();
        hold.run({ paymentId, productId, quantity, now });
      }
    })();
    return 'reserved';
  } catch (error) {
    if (error instanceof OutOfStock) return 'out_of_stock';
    throw error;
  }
}

/** Returns the payment's reserved stock; a released reservation is never released twice. */
export function releaseStock({ db }: Connection, paymentId: string, now: number): number {
  const held = db
    .select()
    .from(stockReservations)
    .where(and(eq(stockReservations.paymentId, paymentId), eq(stockReservations.status, 'reserved')))
    .all();
  for (const reservation of held) {
    db.update(stockReservations)
      .set({ status: 'released', releasedAt: now })
      .where(and(eq(stockReservations.paymentId, paymentId), eq(stockReservations.productId, reservation.productId)))
      .run();
    db.update(products)
      .set({ stock: sql`${products.stock} + ${reservation.quantity}` })
      .where(eq(products.id, reservation.productId))
      .run();
  }
  return held.length;
}
