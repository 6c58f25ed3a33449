import { getTableColumns, type Column, type SQL } from 'drizzle-orm';
import { bigint, bigserial, index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { getTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as sqlite from './schema.ts';

/**
 * The PostgreSQL tables, derived from the SQLite schema (schema.ts, where every table is
 * declared once) so that the two dialects cannot drift: text stays text, an integer
 * becomes bigint (epoch milliseconds and money outgrow 32 bits), an autoincrement key
 * becomes bigserial, and every key, default and index (partial ones included) is kept.
 * drizzle-kit generates the PostgreSQL migrations from these (`npm run db:generate`).
 */
function mirror(table: SQLiteTable) {
  const config = getTableConfig(table);
  const keyOf = new Map<string, string>();
  const columns: Record<string, ReturnType<typeof pgColumn>> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    keyOf.set(column.name, key);
    columns[key] = pgColumn(column);
  }
  return pgTable(config.name, columns, (t) => {
    const pick = (column: Column) => t[keyOf.get(column.name)!]!;
    return [
      ...config.primaryKeys.map((key) => primaryKey({ columns: key.columns.map(pick) as [never, ...never[]] })),
      ...config.indexes.map(({ config: ix }) => {
        const on = (ix.unique ? uniqueIndex : index)(ix.name).on(...(ix.columns.map((c) => pick(c as Column)) as [never, ...never[]]));
        return ix.where ? on.where(ix.where as SQL) : on;
      }),
    ];
  });
}

function pgColumn(column: Column) {
  const { name, columnType, notNull, hasDefault, primary, enumValues } = column;
  const autoIncrement = (column as Column & { autoIncrement?: boolean }).autoIncrement === true;
  if (columnType === 'SQLiteInteger' && primary && autoIncrement) return bigserial(name, { mode: 'number' }).primaryKey();
  let built =
    columnType === 'SQLiteInteger'
      ? bigint(name, { mode: 'number' })
      : columnType === 'SQLiteText'
        ? text(name, enumValues ? { enum: enumValues as [string, ...string[]] } : {})
        : unsupported(column);
  if (notNull) built = built.notNull() as typeof built;
  if (hasDefault && column.default !== undefined) built = built.default(column.default as never) as typeof built;
  if (primary) built = built.primaryKey() as typeof built;
  return built;
}

function unsupported(column: Column): never {
  throw new Error(`column ${column.name}: ${column.columnType} has no PostgreSQL counterpart in schema-pg.ts`);
}

export const products = mirror(sqlite.products);
export const payments = mirror(sqlite.payments);
export const stockReservations = mirror(sqlite.stockReservations);
export const fulfilments = mirror(sqlite.fulfilments);
export const paymentTransitions = mirror(sqlite.paymentTransitions);
export const failedEvents = mirror(sqlite.failedEvents);
export const alerts = mirror(sqlite.alerts);
export const locks = mirror(sqlite.locks);
export const cancellations = mirror(sqlite.cancellations);
export const refundAttempts = mirror(sqlite.refundAttempts);
export const webhookReceipts = mirror(sqlite.webhookReceipts);
export const paymentEvents = mirror(sqlite.paymentEvents);
export const webhookEndpoints = mirror(sqlite.webhookEndpoints);
export const webhookDeliveries = mirror(sqlite.webhookDeliveries);
export const webhookAttempts = mirror(sqlite.webhookAttempts);
export const moneyMovements = mirror(sqlite.moneyMovements);
export const partners = mirror(sqlite.partners);
export const settlementRuns = mirror(sqlite.settlementRuns);
export const settlements = mirror(sqlite.settlements);
export const settlementLines = mirror(sqlite.settlementLines);
