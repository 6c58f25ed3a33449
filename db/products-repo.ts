import type { Db } from './connection.ts';
import { prepared, selectList } from './prepared.ts';
import { products } from './schema.ts';

export type Product = typeof products.$inferSelect;
export type NewProduct = Omit<Product, 'currency' | 'totalStock'> & { currency?: string };

/** Returns false when the id is taken. */
export function insertProduct(db: Db, product: NewProduct): boolean {
  const result = db
    .insert(products)
    .values({ ...product, totalStock: product.stock })
    .onConflictDoNothing()
    .run();
  return result.changes === 1;
}

export function findProduct(db: Db, id: string): Product | undefined {
  return prepared(db, 'findProduct', () => db.$client.prepare(`select ${selectList(products)} from products where id = ?`)).get(
    id,
  ) as Product | undefined;
}

/** By id, from after `after`, at most `limit`. */
export function listProducts(db: Db, after: string | undefined, limit: number): Product[] {
  return db.$client
    .prepare(`select ${selectList(products)} from products where id > ? order by id limit ?`)
    .all(after ?? '', limit) as Product[];
}

export function findProducts(db: Db, ids: string[]): Product[] {
  return ids.flatMap((id) => findProduct(db, id) ?? []);
}
