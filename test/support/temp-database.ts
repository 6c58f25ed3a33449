import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { openDatabase, type Connection, type Sqlite } from '../../db/connection.ts';

export interface TempDatabase {
  /** This test's file. */
  readonly path: string;
  /** A migrated connection to it, closed after the test (an open transaction rolled back first). */
  connect(busyTimeoutMs?: number): Connection;
}

/** A fresh SQLite file for each test of the calling file, removed afterwards. Call at the top level. */
export function useTempDatabase(name: string): TempDatabase {
  let dir = '';
  const opened: Sqlite[] = [];
  const temp: TempDatabase = {
    get path() {
      return join(dir, 'paystate.db');
    },
    connect(busyTimeoutMs) {
      const connection = openDatabase(temp.path, 'FULL', busyTimeoutMs);
      opened.push(connection.sqlite);
      return connection;
    },
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `paystate-${name}-`));
  });
  afterEach(() => {
    for (const sqlite of opened.splice(0)) {
      if (sqlite.inTransaction) sqlite.exec('rollback');
      sqlite.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return temp;
}
