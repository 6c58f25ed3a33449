/**
 * The bench run's PostgreSQL: one throwaway cluster (scripts/lib/postgres.ts), started by
 * the first part that asks for it and kept to the end of the run, a new database per part.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresCluster } from '../lib/postgres.ts';
import { killPostmaster, postmasterPid } from '../lib/postmaster.ts';
import { LogSummary, postgresLogEntries } from './log-summary.ts';
import type { Scope } from './stack.ts';

interface Server {
  cluster: PostgresCluster;
  dir: string;
  /** The postmaster: every backend and background process of the server is its child. */
  pid: number;
}

let server: Promise<Server> | undefined;
let started: Server | undefined;
let databases = 0;
/** --profile: the server keeps statistics of every statement (pg_stat_statements), at a small cost. */
let statementStatistics = false;

/** Before the first part: the cluster of a profiled run counts its statements. */
export function countStatements(): void {
  statementStatistics = true;
}

function ensureServer(): Promise<Server> {
  server ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paystate-bench-postgres-'));
    console.log('  starting a throwaway PostgreSQL cluster for this run');
    const cluster = await startPostgres(dir, undefined, statementStatistics ? ['shared_preload_libraries=pg_stat_statements'] : []);
    started = { cluster, dir, pid: postmasterPid(cluster.dataDir) };
    return started;
  })();
  return server;
}

async function admin<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A new empty database for one part (the services apply the migrations); when the part
 * ends it is dropped, and what the server logged meanwhile at WARNING or above is printed.
 */
export async function newBenchDatabase(scope: Scope, name: string): Promise<string> {
  const { cluster, dir } = await ensureServer();
  const database = `bench_${name.replace(/[^a-z0-9]/g, '_')}_${++databases}`;
  await admin(cluster.url, (client) => client.query(`create database ${database}`));
  const url = cluster.url.replace(/\/postgres$/, `/${database}`);
  if (statementStatistics) await admin(url, (client) => client.query('create extension pg_stat_statements'));
  const log = join(dir, 'server.log');
  const logFrom = statSync(log).size;
  // Registered before the services start, so it runs after they are stopped.
  scope.defer(async () => {
    await admin(cluster.url, (client) => client.query(`drop database if exists ${database} with (force)`));
    const logged = new LogSummary();
    for (const entry of postgresLogEntries(readFileSync(log).subarray(logFrom).toString())) logged.addMessage(entry);
    const summary = logged.report(`PostgreSQL (${database})`);
    if (summary) console.log(summary);
  });
  return url;
}

/** Transactions of one database so far (PostgreSQL's cumulative statistics, flushed about once a second). */
export interface DatabaseActivity {
  commits: number;
  rollbacks: number;
  deadlocks: number;
}

export function databaseActivity(url: string): Promise<DatabaseActivity> {
  return admin(url, async (client) => {
    const { rows } = await client.query<DatabaseActivity>(
      `select xact_commit::int as commits, xact_rollback::int as rollbacks, deadlocks::int as deadlocks
         from pg_stat_database where datname = current_database()`,
    );
    return rows[0]!;
  });
}

/** The statements of the database at `url` from now on: the function it returns prints them (--profile only). */
export async function watchStatements(url: string): Promise<(payments: number) => Promise<void>> {
  if (!statementStatistics) return async () => undefined;
  await admin(url, (client) => client.query('select pg_stat_statements_reset(0, (select oid from pg_database where datname = current_database()), 0)'));
  return (payments) => printStatements(url, payments);
}

interface StatementRow {
  calls: number;
  totalMs: number;
  query: string;
}

/** Round trips per payment, and the statements that make them: each is a wait on the connection that sent it. */
async function printStatements(url: string, payments: number): Promise<void> {
  const rows = await admin(url, async (client) => {
    const { rows } = await client.query<StatementRow>(
      `select calls::int as calls, total_exec_time as "totalMs", query from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database()) order by calls desc`,
    );
    return rows;
  });
  const calls = rows.reduce((sum, row) => sum + row.calls, 0);
  const totalMs = rows.reduce((sum, row) => sum + row.totalMs, 0);
  console.log(`\nPostgreSQL statements: ${(calls / payments).toFixed(1)} per payment, ${(totalMs / payments).toFixed(3)} ms of execution per payment`);
  console.log('  per payment   mean ms  statement (by calls)');
  for (const row of rows.slice(0, 20)) {
    const text = row.query.replace(/\s+/g, ' ').slice(0, 110);
    console.log(`  ${(row.calls / payments).toFixed(2).padStart(11)}  ${(row.totalMs / row.calls).toFixed(3).padStart(8)}  ${text}`);
  }
}

/** The postmaster's process id, if this run has started the server. */
export function postgresServerPid(): number | undefined {
  return started?.pid;
}

/** At the end of the run: a fast shutdown, then its directory goes. */
export async function stopBenchPostgres(): Promise<void> {
  if (!started) return;
  const { cluster, dir } = started;
  started = undefined;
  server = undefined;
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** Last resort on exit, error or Ctrl-C, synchronous (see killPostmaster). */
export function killBenchPostgres(): void {
  if (!started) return;
  killPostmaster(started.pid);
  rmSync(started.dir, { recursive: true, force: true });
  started = undefined;
}
