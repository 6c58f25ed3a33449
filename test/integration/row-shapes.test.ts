import { eq } from 'drizzle-orm';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { drizzle as drizzlePostgres } from 'drizzle-orm/node-postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../db/connection.ts';
import { findPayment, findPaymentByIdempotencyKey, findPaymentOrder, insertPayment, type PaymentRow } from '../../db/payments-repo.ts';
import { findProduct, insertProduct, type Product } from '../../db/products-repo.ts';
import * as sqliteTables from '../../db/schema.ts';
import * as postgresTables from '../../db/schema-pg.ts';
import { useTempDatabase } from '../support/temp-database.ts';

// The hot path reads rows with plain SQL (selectList); they must be exactly what drizzle returns.
const temp = useTempDatabase('row-shapes');
let db: Database;

interface Reference {
  payment(id: string): Promise<PaymentRow | undefined>;
  product(id: string): Promise<Product | undefined>;
}
/** drizzle's own rows in the run's dialect, read through a connection of their own. */
let viaDrizzle: Reference;
let closeReference: (() => Promise<void>) | undefined;

async function drizzleReference(): Promise<Reference> {
  const { url } = await temp.location();
  if (url === undefined) {
    const { payments, products } = sqliteTables;
    const sqlite = drizzleSqlite(temp.sqlite());
    return {
      payment: async (id) => sqlite.select().from(payments).where(eq(payments.id, id)).get(),
      product: async (id) => sqlite.select().from(products).where(eq(products.id, id)).get(),
    };
  }
  const { payments, products } = postgresTables;
  const postgres = drizzlePostgres(url);
  closeReference = () => postgres.$client.end();
  // schema-pg's tables are derived at run time: their rows are typed loosely.
  return {
    payment: async (id) => (await postgres.select().from(payments).where(eq(payments.id!, id)))[0] as PaymentRow | undefined,
    product: async (id) => (await postgres.select().from(products).where(eq(products.id!, id)))[0] as Product | undefined,
  };
}

beforeEach(async () => {
  db = await temp.connect();
  viaDrizzle = await drizzleReference();
});
afterEach(async () => {
  await closeReference?.();
  closeReference = undefined;
});

describe('plain-SQL rows', () => {
  it('match drizzle’s rows for a payment, nulls and schema defaults included', async () => {
    await db.commit.run((tx) =>
      insertPayment(
        tx,
        {
          id: 'pay_shape',
          idempotencyKey: 'key-shape',
          requestFingerprint: 'f'.repeat(64),
          customerId: 'c-1',
          partnerId: 'p-1',
          amount: 15_000,
          currency: 'KRW',
          items: '[{"productId":"book-1","quantity":1,"unitPrice":15000}]',
          orderName: 'A book',
          billingKey: 'bk_test_ok',
          metadata: null,
          state: 'reserving',
          status: 'processing',
          snapshot: '{}',
          machineVersion: 1,
          createdAt: 1_700_000_000_000,
          updatedAt: 1_700_000_000_000,
        },
        { type: 'api.create', from: null, to: 'reserving', at: 1_700_000_000_000 },
      ),
    );
    const reference = await viaDrizzle.payment('pay_shape');
    expect(reference).toBeDefined();
    expect(await findPayment(db.read, 'pay_shape')).toStrictEqual(reference);
    expect(await findPaymentByIdempotencyKey(db.read, 'key-shape')).toStrictEqual(reference);
    const { id, customerId, partnerId, amount, currency, items, orderName, metadata, billingKey, createdAt, state } = reference!;
    expect(await findPaymentOrder(db.read, 'pay_shape')).toStrictEqual({
      id,
      customerId,
      partnerId,
      amount,
      currency,
      items,
      orderName,
      metadata,
      billingKey,
      createdAt,
      state,
    });
  });

  it('match drizzle’s rows for a product', async () => {
    await db.commit.run((tx) => insertProduct(tx, { id: 'book-1', name: 'A book', price: 15_000, stock: 3, partnerId: 'p-1', createdAt: 1 }));
    expect(await findProduct(db.read, 'book-1')).toStrictEqual(await viaDrizzle.product('book-1'));
  });

  it('are undefined for an id that does not exist', async () => {
    expect(await findPayment(db.read, 'pay_none')).toBeUndefined();
    expect(await findPaymentOrder(db.read, 'pay_none')).toBeUndefined();
    expect(await findProduct(db.read, 'none')).toBeUndefined();
  });
});
