import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { createGroupCommit, sqliteWriter, type GroupCommit } from './group-commit.ts';
import { sqliteSql, type Dialect, type Sql } from './sql.ts';

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
export type Sqlite = BetterSqlite3.Database;

/**
 * The service's database: committed reads, and one group commit through which every
 * write goes (rule 4). The same for SQLite and PostgreSQL.
 */
export interface Database {
  readonly dialect: Dialect;
  /** Reads committed rows. Inside a write, use the job's `tx` instead (it sees the job's own rows). */
  readonly read: Sql;
  readonly commit: GroupCommit;
  /** True when the database answers and every shipped migration is applied (/readyz). */
  isReady(): Promise<boolean>;
  /** Commits what is queued, then closes. */
  close(): Promise<void>;
}

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

const shippedMigrations = (
  JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

/**
 * Opens one SQLite connection in WAL mode with the given durability. `synchronous` is
 * set on every connection: better-sqlite3 silently gives NORMAL to later connections of
 * a WAL file.
 */
export function openSqliteConnection(path: string, synchronous: Synchronous, busyTimeoutMs = 5_000): Sqlite {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  // Another process on the same file may hold the write lock for a moment.
  sqlite.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
  switchToWal(sqlite, busyTimeoutMs);
  sqlite.pragma(`synchronous = ${synchronous}`);
  return sqlite;
}

/**
 * WAL mode is kept in the file, but a new file is switched by whoever opens it first, and
 * that switch fails busy at once (no busy handler) while another process switches it
 * too: it is tried again until the busy timeout. Start-up only, so waiting blocks nothing.
 */
function switchToWal(sqlite: Sqlite, busyTimeoutMs: number): void {
  const giveUpAt = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > giveUpAt) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * Applies the shipped migrations. drizzle reads which are applied before it takes the
 * write lock, so processes starting together on a new file race: the loser's transaction
 * fails (a table it creates exists by then) and rolls back whole, and a second look,
 * after the winner's commit, finds everything applied. A real failure fails twice.
 */
function applyMigrations(connection: Sqlite): void {
  try {
    migrate(drizzle(connection), { migrationsFolder });
  } catch {
    migrate(drizzle(connection), { migrationsFolder });
  }
}

/**
 * The embedded database: a SQLite file in WAL mode with the shipped migrations applied.
 * Two connections: one writes (the group commit's, a batch at a time), one reads, so a
 * read never sees a batch that is not committed yet, even while the batch's jobs await.
 */
export function openDatabase(path: string, synchronous: Synchronous, busyTimeoutMs = 5_000): Database {
  // Two connections to ':memory:' would be two separate databases.
  if (path === ':memory:' || path === '') throw new Error('DATABASE_PATH must name a file: the writer and reader connections share it');
  const writer = openSqliteConnection(path, synchronous, busyTimeoutMs);
  applyMigrations(writer);
  const reader = openSqliteConnection(path, synchronous, busyTimeoutMs);
  return assembleDatabase({
    dialect: 'sqlite',
    read: sqliteSql(reader),
    commit: createGroupCommit(sqliteWriter(writer)),
    migrationsTable: '__drizzle_migrations',
    shippedMigrations,
    closeConnections: () => {
      reader.close();
      writer.close();
    },
  });
}

interface DatabaseParts {
  dialect: Dialect;
  read: Sql;
  commit: GroupCommit;
  /** Where drizzle records the migrations it applied. */
  migrationsTable: string;
  shippedMigrations: number;
  closeConnections: () => void | Promise<void>;
}

/** A dialect's reads and group commit as the service's Database (either dialect). */
export function assembleDatabase({ dialect, read, commit, migrationsTable, shippedMigrations: shipped, closeConnections }: DatabaseParts): Database {
  return {
    dialect,
    read,
    commit,
    async isReady() {
      try {
        const applied = await read.get<{ n: number }>(`select count(*) as n from ${migrationsTable}`);
        return (applied?.n ?? 0) >= shipped;
      } catch {
        return false;
      }
    },
    async close() {
      try {
        await commit.flush();
      } finally {
        await closeConnections();
      }
    },
  };
}
