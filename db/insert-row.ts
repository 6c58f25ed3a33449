import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import type { Params } from './sql.ts';

/**
 * A plain insert that names every column of `table` (`tail` appended, such as
 * `on conflict do nothing`), and the parameters of a row for it: a column the row leaves
 * out gets the schema's default, as drizzle's insert builder gave it.
 */
export function insertRow<T extends Table>(table: T, tail = ''): { text: string; params: (row: T['$inferInsert']) => Params } {
  const columns = getTableColumns(table) as Record<string, { name: string; default?: unknown }>;
  const keys = Object.keys(columns);
  const text = `insert into ${getTableName(table)} (${keys.map((k) => `"${columns[k]!.name}"`).join(', ')})
  values (${keys.map((k) => `@${k}`).join(', ')}) ${tail}`.trimEnd();
  const params = (row: T['$inferInsert']) =>
    Object.fromEntries(keys.map((k) => [k, (row as Record<string, unknown>)[k] ?? columns[k]!.default ?? null]));
  return { text, params };
}
