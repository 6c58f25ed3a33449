import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresCluster } from '../../scripts/lib/postgres.ts';
import { createDatabaseOn } from './test-database.ts';

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
    newDatabase() {
      if (!cluster) throw new Error('the cluster is not up: call newDatabase() inside a test or hook');
      return createDatabaseOn(cluster.url);
    },
  };
}
