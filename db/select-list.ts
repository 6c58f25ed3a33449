import { getTableColumns, type Table } from 'drizzle-orm';

/**
 * `"column_name" as "key", …` for the given keys of a table (all by default): a plain
 * statement then returns the rows drizzle's `$inferSelect` describes, in both dialects,
 * without drizzle's per-row mapping (measured: a tenth of the clean path's CPU).
 */
export function selectList<T extends Table>(table: T, keys?: ReadonlyArray<keyof T['_']['columns'] & string>): string {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  return (keys ?? Object.keys(columns)).map((key) => `"${columns[key]!.name}" as "${key}"`).join(', ');
}
