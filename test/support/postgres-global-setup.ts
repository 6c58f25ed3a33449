import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPostgres } from '../../scripts/lib/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster of the `postgres` test project: each harness makes its own database on it. */
    postgresUrl: string;
  }
}

/** One throwaway PostgreSQL cluster for the whole `postgres` project, removed after it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'paystate-pg-suite-'));
  const cluster = await startPostgres(dir);
  project.provide('postgresUrl', cluster.url);
  return async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
