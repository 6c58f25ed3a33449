import Database from 'better-sqlite3';
import pg from 'pg';
import { postgresSql } from '../../db/postgres.ts';
import { sqliteSql, type Sql } from '../../db/sql.ts';

/** A SQLite file, or a PostgreSQL database by URL. */
export type DatabaseTarget = { path: string } | { url: string };

/** The database to check, read through `q` as of one instant, and never changed. */
export interface ReadOnlyDatabase {
  q: Sql;
  /** Names it in messages (a URL without its password). */
  name: string;
  close(): Promise<void>;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Opens the database without migrating it (a checker must not change what it checks),
 * inside one read transaction, so every table is seen at the same instant even if a
 * writer is still active.
 */
export function openReadOnly(target: DatabaseTarget): Promise<ReadOnlyDatabase> {
  return 'path' in target ? openSqliteFile(target.path) : openPostgresDatabase(target.url);
}

async function openSqliteFile(path: string): Promise<ReadOnlyDatabase> {
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open database ${path}: ${messageOf(err)}`);
  }
  sqlite.exec('begin');
  return { q: sqliteSql(sqlite), name: path, close: async () => void sqlite.close() };
}

async function openPostgresDatabase(url: string): Promise<ReadOnlyDatabase> {
  const name = withoutPassword(url);
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    // Repeatable read: one snapshot for every statement; read only: the server refuses any write.
    await client.query('begin isolation level repeatable read read only');
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new Error(`cannot open database ${name}: ${messageOf(err)}`);
  }
  return { q: postgresSql(() => client), name, close: () => client.end() };
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
