import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import { jsonRows, type Params, type Sql } from './sql.ts';

interface ColumnInfo {
  name: string;
  dataType: string;
  default?: unknown;
}

const columnsOf = (table: Table) => getTableColumns(table) as Record<string, ColumnInfo>;

/** `row`'s value of each column, a column it leaves out getting the schema's default, as drizzle's insert builder gave it. */
const valuesOf = (columns: Record<string, ColumnInfo>, row: Record<string, unknown>) =>
  Object.keys(columns).map((key) => [key, row[key] ?? columns[key]!.default ?? null] as const);

/**
 * A plain insert that names every column of `table` (`tail` appended, such as
 * `on conflict do nothing`), and the parameters of a row for it.
 */
export function insertRow<T extends Table>(table: T, tail = ''): { text: string; params: (row: T['$inferInsert']) => Params } {
  const columns = columnsOf(table);
  const keys = Object.keys(columns);
  const text = `insert into ${getTableName(table)} (${keys.map((k) => `"${columns[k]!.name}"`).join(', ')})
  values (${keys.map((k) => `@${k}`).join(', ')}) ${tail}`.trimEnd();
  const params = (row: T['$inferInsert']) => Object.fromEntries(valuesOf(columns, row));
  return { text, params };
}

/**
 * The batch form of `insertRow`: `text(q)` inserts, in their order, the rows of a JSON
 * array bound as `@rows`, each made by `row` (keyed by column name); `tail` is appended.
 */
export function insertRows<T extends Table>(
  table: T,
  tail = '',
): { text: (q: Sql) => string; row: (row: T['$inferInsert']) => Record<string, unknown> } {
  const columns = columnsOf(table);
  const names = Object.values(columns).map((column) => column.name);
  const types = Object.fromEntries(Object.values(columns).map((column) => [column.name, column.dataType === 'number' ? 'bigint' : 'text'] as const));
  // SQLite reads `on conflict` after `insert … select` only when the select has a where clause.
  const text = (q: Sql) => `insert into ${getTableName(table)} (${names.map((name) => `"${name}"`).join(', ')})
  select ${names.map((name) => `r.${name}`).join(', ')} from ${jsonRows(q, 'rows', types)} where true order by r.ord ${tail}`.trimEnd();
  const row = (values: T['$inferInsert']) => Object.fromEntries(valuesOf(columns, values).map(([key, value]) => [columns[key]!.name, value]));
  return { text, row };
}
