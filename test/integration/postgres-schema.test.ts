import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openPostgresPool } from '../../db/postgres.ts';
import { useTempDatabase } from '../support/temp-database.ts';
import { newPostgresDatabase } from '../support/test-database.ts';

/** How many migrations the PostgreSQL journal ships. */
const shipped = (JSON.parse(readFileSync('db/migrations-pg/meta/_journal.json', 'utf8')) as { entries: unknown[] }).entries.length;

const sqliteFile = useTempDatabase('pg-schema');

interface ColumnShape {
  table: string;
  column: string;
  notNull: boolean;
  hasDefault: boolean;
}

interface IndexShape {
  name: string;
  table: string;
  unique: boolean;
  columns: string[];
  partial: boolean;
}

const byName = <T extends { table: string }>(rows: T[], key: (row: T) => string) =>
  rows.map((row) => ({ ...row, key: `${row.table}.${key(row)}` })).sort((a, b) => a.key.localeCompare(b.key));

function sqliteShape() {
  sqliteFile.open(); // migrates the file
  const sqlite = sqliteFile.sqlite();
  const tables = (
    sqlite.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name <> '__drizzle_migrations'`).all() as Array<{ name: string }>
  ).map((t) => t.name);
  const columns: ColumnShape[] = [];
  const primaryKeys: Record<string, string[]> = {};
  const indexes: IndexShape[] = [];
  for (const table of tables) {
    const info = sqlite.prepare(`pragma table_info("${table}")`).all() as Array<{ name: string; notnull: number; dflt_value: unknown; pk: number }>;
    for (const c of info) {
      // A primary key column is NOT NULL in PostgreSQL whatever SQLite says; an autoincrement key has a default there.
      columns.push({ table, column: c.name, notNull: c.notnull === 1 || c.pk > 0, hasDefault: c.dflt_value !== null });
    }
    primaryKeys[table] = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const list = sqlite.prepare(`pragma index_list("${table}")`).all() as Array<{ name: string; unique: number; origin: string; partial: number }>;
    for (const ix of list.filter((i) => i.origin === 'c')) {
      const cols = (sqlite.prepare(`pragma index_info("${ix.name}")`).all() as Array<{ seqno: number; name: string }>)
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name);
      indexes.push({ name: ix.name, table, unique: ix.unique === 1, columns: cols, partial: ix.partial === 1 });
    }
  }
  return { tables: tables.sort(), columns, primaryKeys, indexes };
}

async function postgresShape(url: string) {
  const pool = await openPostgresPool(url, { poolSize: 2 });
  try {
    const tables = (
      await pool.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
      )
    ).rows.map((t) => t.table_name);
    const columns = (
      await pool.query<{ table_name: string; column_name: string; is_nullable: string; column_default: string | null }>(
        `select table_name, column_name, is_nullable, column_default from information_schema.columns where table_schema = 'public'`,
      )
    ).rows.map((c) => ({
      table: c.table_name,
      column: c.column_name,
      notNull: c.is_nullable === 'NO',
      // bigserial's sequence is the autoincrement of SQLite, not a declared default.
      hasDefault: c.column_default !== null && !c.column_default.startsWith('nextval('),
    }));
    const keys = await pool.query<{ table_name: string; column_name: string; ordinal_position: number }>(
      `select k.table_name, k.column_name, k.ordinal_position from information_schema.table_constraints t
       join information_schema.key_column_usage k on k.constraint_name = t.constraint_name and k.table_schema = t.table_schema
       where t.table_schema = 'public' and t.constraint_type = 'PRIMARY KEY' order by k.table_name, k.ordinal_position`,
    );
    const primaryKeys: Record<string, string[]> = {};
    for (const k of keys.rows) (primaryKeys[k.table_name] ??= []).push(k.column_name);
    const indexRows = await pool.query<{ name: string; table: string; unique: boolean; columns: string[]; partial: boolean }>(
      `select i.relname as name, t.relname as "table", x.indisunique as "unique", x.indpred is not null as partial,
         array(select a.attname::text from unnest(x.indkey) with ordinality k(attnum, n)
               join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum order by k.n) as columns
       from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
       join pg_namespace s on s.oid = t.relnamespace
       where s.nspname = 'public' and not x.indisprimary`,
    );
    return { tables: tables.sort(), columns, primaryKeys, indexes: indexRows.rows };
  } finally {
    await pool.end();
  }
}

describe('the PostgreSQL schema', () => {
  it('has every table, column, key and index the SQLite migrations make, with the same constraints', async () => {
    const url = await newPostgresDatabase();
    const lite = sqliteShape();
    const pgShape = await postgresShape(url);

    expect(pgShape.tables).toEqual(lite.tables);
    expect(byName(pgShape.columns, (c) => c.column)).toEqual(byName(lite.columns, (c) => c.column));
    expect(pgShape.primaryKeys).toEqual(lite.primaryKeys);
    expect(byName(pgShape.indexes, (i) => i.name)).toEqual(byName(lite.indexes, (i) => i.name));
    expect(lite.indexes.length).toBeGreaterThan(20);
  });

  it('migrates once when several processes start on a new database at the same moment', async () => {
    const url = await newPostgresDatabase();
    const opened = await Promise.all([1, 2, 3].map(() => openPostgresPool(url, { poolSize: 2 })));
    try {
      const applied = await opened[0]!.query<{ n: number }>('select count(*) as n from drizzle.__drizzle_migrations');
      expect(applied.rows[0]!.n).toBe(shipped);
      const tables = await opened[1]!.query<{ n: number }>(
        `select count(*) as n from information_schema.tables where table_schema = 'public'`,
      );
      expect(tables.rows[0]!.n).toBe(20);
    } finally {
      await Promise.all(opened.map((pool) => pool.end()));
    }
  });

  it('reads bigint columns back as numbers, beyond 32 bits', async () => {
    const url = await newPostgresDatabase();
    const pool = await openPostgresPool(url, { poolSize: 1 });
    try {
      const at = Date.UTC(2026, 11, 2, 12, 0, 0, 123);
      await pool.query(`insert into money_movements (payment_id, kind, amount, at) values ('p1', 'charge', 3000000000, $1)`, [at]);
      const row = await pool.query('select amount, at, sum(amount) over () as total, count(*) over () as n from money_movements');
      expect(row.rows[0]).toEqual({ amount: 3_000_000_000, at, total: 3_000_000_000, n: 1 });
    } finally {
      await pool.end();
    }
  });
});
