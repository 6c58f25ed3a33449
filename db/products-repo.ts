import { getTableColumns } from 'drizzle-orm';
import { products } from './schema.ts';
import { selectList } from './select-list.ts';
import type { Sql } from './sql.ts';

export type Product = typeof products.$inferSelect;
export type NewProduct = Omit<Product, 'currency' | 'totalStock'> & { currency?: string };

/** A plain insert names every column, so the schema's default currency is filled in here. */
const DEFAULT_CURRENCY = getTableColumns(products).currency.default as string;

const INSERT_PRODUCT = `insert into products (id, name, price, currency, stock, total_stock, partner_id, created_at)
  values (@id, @name, @price, @currency, @stock, @stock, @partnerId, @createdAt) on conflict do nothing`;

/** Returns false when the id is taken. */
export async function insertProduct(q: Sql, product: NewProduct): Promise<boolean> {
  const changed = await q.run(INSERT_PRODUCT, {
    id: product.id,
    name: product.name,
    price: product.price,
    currency: product.currency ?? DEFAULT_CURRENCY,
    stock: product.stock,
    partnerId: product.partnerId,
    createdAt: product.createdAt,
  });
  return changed === 1;
}

const FIND_PRODUCT = `select ${selectList(products)} from products where id = @id`;

export function findProduct(q: Sql, id: string): Promise<Product | undefined> {
  return q.get<Product>(FIND_PRODUCT, { id });
}

const LIST_PRODUCTS = `select ${selectList(products)} from products where id > @after order by id limit @limit`;

/** By id, from after `after`, at most `limit`. */
export function listProducts(q: Sql, after: string | undefined, limit: number): Promise<Product[]> {
  return q.all<Product>(LIST_PRODUCTS, { after: after ?? '', limit });
}

export async function findProducts(q: Sql, ids: string[]): Promise<Product[]> {
  const found: Product[] = [];
  for (const id of ids) {
    const product = await findProduct(q, id);
    if (product) found.push(product);
  }
  return found;
}
