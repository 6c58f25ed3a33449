import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.ts';

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
/** Drizzle over better-sqlite3; `$client` runs the few statements written in plain SQL. */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
export type Sqlite = Database.Database;

export interface Connection {
  sqlite: Sqlite;
  db: Db;
}

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Opens the database in WAL mode and applies the shipped migrations.
 * `synchronous` is set on every connection: better-sqlite3 silently gives NORMAL to
 * later connections of a WAL file.
 */
export function openDatabase(path: string, synchronous: Synchronous, busyTimeoutMs = 5_000): Connection {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous}`);
  // Another process on the same file may hold the write lock for a moment.
  sqlite.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder });
  return { sqlite, db };
}

const shippedMigrations = (
  JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

/** True when the database is open and every shipped migration is applied (/readyz). */
export function isReady(sqlite: Sqlite): boolean {
  if (!sqlite.open) return false;
  try {
    const row = sqlite.prepare('select count(*) as n from __drizzle_migrations').get() as { n: number };
    return row.n >= shippedMigrations;
  } catch {
    return false;
  }
}
