import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach } from 'vitest';
import { openDatabase, openSqliteConnection, type Database, type Sqlite } from '../../db/connection.ts';
import { openPostgres, postgresSql } from '../../db/postgres.ts';
import { sqliteSql, type Sql } from '../../db/sql.ts';
import { newPostgresDatabase, testDialect } from './test-database.ts';

/** Where a test's database is: its SQLite file, or (the `postgres` project) its PostgreSQL URL. */
export interface DatabaseLocation {
  path: string;
  url?: string | undefined;
}

/**
 * A connection of its own to a test's database, as another process's would be: outside
 * any group commit, each statement runs at once (or inside the transaction it began). For
 * writes and locks: on PostgreSQL its bigint values read back as strings.
 */
export interface Session extends Sql {
  /** Rolls back an open transaction and disconnects. */
  close(): Promise<void>;
}

export async function openSession({ path, url }: DatabaseLocation): Promise<Session> {
  if (url === undefined) {
    const connection = openSqliteConnection(path, 'FULL');
    return {
      ...sqliteSql(connection),
      async close() {
        if (connection.inTransaction) connection.exec('rollback');
        connection.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { ...postgresSql(() => client), close: () => client.end() };
}

/**
 * The session takes the database's write lock, as another process in a long write would,
 * until the returned function lets go. SQLite's lock is the whole file's; on PostgreSQL it
 * is taken on `tables` in exclusive mode (their reads pass, their writes wait).
 */
export async function holdWriteLock(session: Session, tables: string[]): Promise<() => Promise<void>> {
  if (session.dialect === 'sqlite') {
    await session.run('begin immediate');
  } else {
    await session.run('begin');
    // The holder waits for writes under way however long they take, whatever lock_timeout its URL sets for the service.
    await session.run('set local lock_timeout = 0');
    await session.run(`lock table ${tables.join(', ')} in exclusive mode`);
  }
  return async () => {
    await session.run('rollback');
  };
}

/**
 * The harness's environment for a service whose writes wait at most `lockWaitMs` for
 * another connection's lock before failing busy: SQLite's busy timeout, or PostgreSQL's
 * lock_timeout, on a new database.
 */
export async function lockWaitEnv(lockWaitMs: number): Promise<Record<string, string>> {
  return testDialect === 'sqlite'
    ? { SQLITE_BUSY_TIMEOUT_MS: String(lockWaitMs) }
    : { DATABASE_URL: await newPostgresDatabase(), DATABASE_LOCK_TIMEOUT_MS: String(lockWaitMs) };
}

export interface TempDatabase {
  /** This test's file. */
  readonly path: string;
  /** The service's database on the file (migrated), closed after the test. */
  open(busyTimeoutMs?: number): Database;
  /**
   * A raw SQLite connection to the file, closed after the test (an open transaction rolled
   * back first): for triggers, seeding rows and holding locks. Open the database first when
   * the tables must exist.
   */
  sqlite(busyTimeoutMs?: number): Sqlite;
  /**
   * The service's database (migrated) in this run's dialect: the test's file, or a new
   * database of its own on the `postgres` project's cluster. Each call opens another one
   * on the same database, as another process would; all are closed after the test. Its
   * writes wait at most `lockWaitMs` for another connection's lock (by default SQLite's
   * 5 s, and PostgreSQL's no limit, as the service's).
   */
  connect(lockWaitMs?: number): Promise<Database>;
  /** Another connection to what `connect` opens (open that first: it migrates), closed after the test. */
  session(): Promise<Session>;
  /** Where `connect` opens the database. */
  location(): Promise<DatabaseLocation>;
}

/** A fresh SQLite file (and PostgreSQL database) for each test of the calling file, removed afterwards. Call at the top level. */
export function useTempDatabase(name: string): TempDatabase {
  let dir = '';
  let postgresUrl: Promise<string> | undefined;
  const databases: Database[] = [];
  const connections: Sqlite[] = [];
  const sessions: Session[] = [];
  const temp: TempDatabase = {
    get path() {
      return join(dir, 'paystate.db');
    },
    open(busyTimeoutMs) {
      const database = openDatabase(temp.path, 'FULL', busyTimeoutMs);
      databases.push(database);
      return database;
    },
    sqlite(busyTimeoutMs) {
      const connection = openSqliteConnection(temp.path, 'FULL', busyTimeoutMs);
      connections.push(connection);
      return connection;
    },
    async connect(lockWaitMs) {
      const { url } = await temp.location();
      if (url === undefined) return temp.open(lockWaitMs);
      const database = await openPostgres(url, { poolSize: 4, lockTimeoutMs: lockWaitMs });
      databases.push(database);
      return database;
    },
    async session() {
      const session = await openSession(await temp.location());
      sessions.push(session);
      return session;
    },
    async location() {
      return { path: temp.path, url: testDialect === 'postgres' ? await (postgresUrl ??= newPostgresDatabase()) : undefined };
    },
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `paystate-${name}-`));
    postgresUrl = undefined;
  });
  afterEach(async () => {
    // Sessions first: one may hold a lock the databases' last writes wait for.
    await Promise.allSettled(sessions.splice(0).map((session) => session.close()));
    for (const connection of connections.splice(0)) {
      if (connection.inTransaction) connection.exec('rollback');
      connection.close();
    }
    // A test that broke its database on purpose may fail to flush: close it anyway.
    await Promise.allSettled(databases.splice(0).map((database) => database.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  return temp;
}
