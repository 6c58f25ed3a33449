import { and, eq, gte, sql } from 'drizzle-orm';
import type { Connection } from './connection.ts';
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
  const held = db.select({ n: sql<number>`count(*)` }).from(stockReservations).where(eq(stockReservations.paymentId, paymentId)).get();
  if ((held?.n ?? 0) > 0) return 'reserved';
  try {
    sqlite.transaction(() => {
      for (const item of items) {
        const taken = db
          .update(products)
          .set({ stock: sql`${products.stock} - ${item.quantity}` })
          .where(and(eq(products.id, item.productId), gte(products.stock, item.quantity)))
          .run();
        if (taken.changes === 0) throw new OutOfStock();
        db.insert(stockReservations)
          .values({ paymentId, productId: item.productId, quantity: item.quantity, status: 'reserved', createdAt: now })
          .run();
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
