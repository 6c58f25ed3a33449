import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { assembleDatabase, type Database } from './connection.ts';
import { createGroupCommit, type Writer } from './group-commit.ts';
import { ADVISORY_LOCKS } from './locks-repo.ts';
import type { Params, Sql } from './sql.ts';

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations-pg');

const shippedMigrations = (
  JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

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

export interface OpenOptions {
  poolSize?: number;
  /** lock_timeout of every connection (unless the URL's `options` set it); unset: PostgreSQL's, no limit. */
  lockTimeoutMs?: number;
  /** Told when an idle pooled connection breaks. */
  onIdleError?: (error: Error) => void;
}


/**
 * Opens a pool on DATABASE_URL and applies the shipped PostgreSQL migrations (generated
 * by drizzle-kit from db/schema-pg.ts) under an advisory lock.
 */
export async function openPostgresPool(url: string, options: OpenOptions = {}): Promise<pg.Pool> {
  // The URL's own `options`, if any, replace these (pg lets the connection string win).
  const serverOptions = options.lockTimeoutMs === undefined ? undefined : `-c lock_timeout=${options.lockTimeoutMs}`;
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types, options: serverOptions });
  // An idle client whose server went away (restart, failover) is dropped by the pool and
  // the next query connects again; unhandled, the event would end the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  try {
    const client = await pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [ADVISORY_LOCKS.migrations]);
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [ADVISORY_LOCKS.migrations]).catch(() => undefined);
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}

interface Positional {
  /** The name it is prepared under on each connection that runs it. */
  name: string;
  text: string;
  names: string[];
}

/**
 * Statement text → its prepared form, shared by every pool and client of the process: a
 * name always stands for the same text. Each connection parses and plans a statement
 * once, then only binds and executes it (PostgreSQL parsed and planned every unnamed one anew).
 */
const prepared = new Map<string, Positional>();

/** `@name` → `$n` (the same name, the same number); string literals are left alone. */
function toPositional(text: string): Omit<Positional, 'name'> {
  const names: string[] = [];
  const converted = text.replace(/'(?:[^']|'')*'|@([A-Za-z_][A-Za-z0-9_]*)/g, (match, name: string | undefined) => {
    if (name === undefined) return match;
    const index = names.includes(name) ? names.indexOf(name) : names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text: converted, names };
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** PostgreSQL behind the Sql interface; `target()` is the pool for reads, the batch's client for a write. */
export function postgresSql(target: () => Queryable): Sql {
  const query = async <T>(text: string, params: Params = {}) => {
    let statement = prepared.get(text);
    if (statement === undefined) {
      statement = { name: `paystate_${prepared.size + 1}`, ...toPositional(text) };
      prepared.set(text, statement);
    }
    const values = statement.names.map((name) => {
      // As better-sqlite3 does: a misspelt name must not quietly become NULL.
      if (!(name in params)) throw new Error(`missing named parameter "${name}"`);
      return params[name] ?? null;
    });
    const { name, text: positional } = statement;
    return target().query({ name, text: positional, values }) as unknown as Promise<pg.QueryResult<T & pg.QueryResultRow>>;
  };
  return {
    dialect: 'postgres',
    all: async <T>(text: string, params?: Params) => (await query<T>(text, params)).rows as T[],
    get: async <T>(text: string, params?: Params) => (await query<T>(text, params)).rows[0] as T | undefined,
    run: async (text: string, params?: Params) => (await query(text, params)).rowCount ?? 0,
  };
}

/**
 * The PostgreSQL writer: one connection of the pool, kept from batch to batch, so that a
 * batch never waits in the pool's queue behind reads (measured: a third of a batch's time
 * under load). A connection that breaks is dropped and the next batch takes another.
 * Committed with synchronous_commit on (the cluster's default, which the service does
 * not lower), so a resolved job is on disk, as with SQLite's synchronous=FULL.
 */
export function postgresWriter(pool: pg.Pool, onIdleError?: (error: Error) => void): Writer & { close(): void } {
  let client: pg.PoolClient | undefined;
  let onError = (_error: Error): void => undefined;
  let open = false;
  const current = (): pg.PoolClient => {
    if (!client || !open) throw new Error('no write transaction is open');
    return client;
  };
  // A statement that fails inside a savepoint leaves the transaction usable once rolled back
  // to it; if that fails too (a broken connection), the whole batch fails.
  const statement = (text: string) => async () => {
    await current().query(text);
  };
  // A connection that breaks emits 'error' (between batches too), and its query rejects
  // with the same error, which fails the batch: it is destroyed, not pooled, and the next
  // batch takes another. Only the connection in use is dropped: a destroyed one may still
  // emit 'error' later.
  const drop = (broken: pg.PoolClient, error: Error) => {
    if (client !== broken) return;
    client = undefined;
    open = false;
    broken.release(error);
  };
  const finish = (text: 'commit' | 'rollback') => async () => {
    const held = client;
    const wasOpen = open;
    open = false;
    if (!held || !wasOpen) return;
    let result: pg.QueryResult;
    try {
      result = await held.query(text);
    } catch (error) {
      drop(held, error as Error);
      throw error;
    }
    // COMMIT of a transaction the server had aborted answers ROLLBACK, not an error.
    if (text === 'commit' && result.command !== 'COMMIT') throw new Error(`the batch was rolled back by the server (${result.command})`);
  };
  return {
    sql: postgresSql(current),
    async begin() {
      if (!client) {
        const fresh = await pool.connect();
        // Unhandled, the event would end the process.
        onError = (error) => {
          // Between batches nobody's query fails with it: tell it as the pool tells its idle ones.
          if (!open && client === fresh) onIdleError?.(error);
          drop(fresh, error);
        };
        fresh.on('error', onError);
        client = fresh;
      }
      open = true;
      await statement('begin')();
    },
    commit: finish('commit'),
    rollback: finish('rollback'),
    savepoint: statement('savepoint job'),
    release: statement('release savepoint job'),
    rollbackToSavepoint: async () => {
      await statement('rollback to savepoint job')();
      await statement('release savepoint job')();
    },
    inTransaction: () => open,
    /** Gives the connection back to the pool (which is closing). */
    close() {
      const held = client;
      client = undefined;
      open = false;
      held?.off('error', onError);
      held?.release();
    },
  };
}

/** The service's database on PostgreSQL: reads from the pool, writes through one group commit. */
export async function openPostgres(url: string, options: OpenOptions = {}): Promise<Database & { pool: pg.Pool }> {
  const pool = await openPostgresPool(url, options);
  const writer = postgresWriter(pool, options.onIdleError);
  const database = assembleDatabase({
    dialect: 'postgres',
    read: postgresSql(() => pool),
    commit: createGroupCommit(writer),
    migrationsTable: 'drizzle.__drizzle_migrations',
    shippedMigrations,
    closeConnections: () => {
      writer.close();
      return pool.end();
    },
  });
  return { ...database, pool };
}
