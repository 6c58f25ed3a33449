import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations-pg');

/** OIDs of the types PostgreSQL sends as text that are plain numbers here (rule 1: integer money and epoch ms). */
const INT8 = 20;
const NUMERIC = 1700;

/**
 * bigint columns (epoch milliseconds, money in minor units) and sums of them come back
 * as JavaScript numbers, as SQLite gives them: every value here stays far below 2^53.
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 || oid === NUMERIC ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresConnection {
  pool: pg.Pool;
  db: NodePgDatabase;
}

export interface OpenOptions {
  poolSize?: number;
  /** Told when an idle pooled connection breaks. */
  onIdleError?: (error: Error) => void;
}

/** Held while migrating: processes that start together apply each migration once. */
const MIGRATION_LOCK = 7_261_001;

/**
 * Opens a pool on DATABASE_URL and applies the shipped PostgreSQL migrations (generated
 * by drizzle-kit from db/schema-pg.ts) under an advisory lock.
 */
export async function openPostgres(url: string, options: OpenOptions = {}): Promise<PostgresConnection> {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types });
  // An idle client whose server went away (restart, failover) is dropped by the pool and
  // the next query connects again; unhandled, the event would end the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  try {
    const client = await pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  return { pool, db: drizzle(pool) };
}
