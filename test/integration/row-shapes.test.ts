import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, openSqliteConnection } from '../../db/connection.ts';
import { findPayment, findPaymentByIdempotencyKey, findPaymentOrder, insertPayment } from '../../db/payments-repo.ts';
import { findProduct, insertProduct } from '../../db/products-repo.ts';
import { payments, products } from '../../db/schema.ts';

// The hot path reads rows with plain SQL (selectList); they must be exactly what drizzle returns.
const dir = mkdtempSync(join(tmpdir(), 'paystate-row-shapes-'));
const db = openDatabase(join(dir, 'paystate.db'), 'FULL');
// drizzle's own rows, the reference, read through a connection of their own.
const sqlite = openSqliteConnection(join(dir, 'paystate.db'), 'FULL');
const viaDrizzle = drizzle(sqlite);
afterAll(async () => {
  sqlite.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
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
    const reference = viaDrizzle.select().from(payments).where(eq(payments.id, 'pay_shape')).get();
    expect(reference).toBeDefined();
    expect(await findPayment(db.read, 'pay_shape')).toStrictEqual(reference);
    expect(await findPaymentByIdempotencyKey(db.read, 'key-shape')).toStrictEqual(reference);
    const { id, customerId, amount, currency, items, orderName, billingKey, state } = reference!;
    expect(await findPaymentOrder(db.read, 'pay_shape')).toStrictEqual({ id, customerId, amount, currency, items, orderName, billingKey, state });
  });

  it('match drizzle’s rows for a product', async () => {
    await db.commit.run((tx) => insertProduct(tx, { id: 'book-1', name: 'A book', price: 15_000, stock: 3, partnerId: 'p-1', createdAt: 1 }));
    expect(await findProduct(db.read, 'book-1')).toStrictEqual(viaDrizzle.select().from(products).where(eq(products.id, 'book-1')).get());
  });

  it('are undefined for an id that does not exist', async () => {
    expect(await findPayment(db.read, 'pay_none')).toBeUndefined();
    expect(await findPaymentOrder(db.read, 'pay_none')).toBeUndefined();
    expect(await findProduct(db.read, 'none')).toBeUndefined();
  });
});
