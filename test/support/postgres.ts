import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresCluster } from '../../scripts/lib/postgres.ts';

export interface TestPostgres {
  /** A new empty database on the file's cluster; its URL. */
  newDatabase(): Promise<string>;
}

/**
 * One throwaway PostgreSQL cluster for the calling file (Debian's postgresql, started on
 * 127.0.0.1 with a temp data directory), stopped and removed after its last test. Each
 * test takes its own database from it. Call at the top level.
 */
export function useTestPostgres(): TestPostgres {
  let dir = '';
  let cluster: PostgresCluster | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paystate-pg-'));
    cluster = await startPostgres(dir);
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    async newDatabase() {
      if (!cluster) throw new Error('the cluster is not up: call newDatabase() inside a test or hook');
      const name = `test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      try {
        await admin.query(`create database ${name}`);
      } finally {
        await admin.end();
      }
      return cluster.url.replace(/\/postgres$/, `/${name}`);
    },
  };
}
