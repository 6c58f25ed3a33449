import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { openDatabase, openSqliteConnection, type Database, type Sqlite } from '../../db/connection.ts';

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
}

/** A fresh SQLite file for each test of the calling file, removed afterwards. Call at the top level. */
export function useTempDatabase(name: string): TempDatabase {
  let dir = '';
  const databases: Database[] = [];
  const connections: Sqlite[] = [];
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
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `paystate-${name}-`));
  });
  afterEach(async () => {
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
