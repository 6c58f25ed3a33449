/** The processes a bench part runs against: mock PG, service or bare pipeline, each on a fresh temp database. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS, startProcess, type Proc } from '../lib/processes.ts';
import { createProducts } from './api.ts';
import { ADMIN_TOKEN, PG_SECRET } from './credentials.ts';
import { killBenchPostgres, newBenchDatabase } from './bench-postgres.ts';
import { LogSummary } from './log-summary.ts';
import type { PartContext } from './options.ts';
import type { DatabaseKind } from './setup.ts';

const PROFILER = fileURLToPath(new URL('./cpu-profile-preload.ts', import.meta.url));

const running = new Set<Proc>();
const tempDirs = new Set<string>();

/** Last resort on exit, error or Ctrl-C: synchronous, so it also works in an 'exit' handler. */
export function killEverything(): void {
  for (const proc of running) proc.child.kill('SIGKILL');
  running.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  killBenchPostgres();
}

/** Cleanups of one bench part, run in reverse order when it ends, however it ends. */
export class Scope {
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  defer(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup();
  }
}

export async function withScope<T>(run: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await run(scope);
  } finally {
    await scope.close();
  }
}

export function tempDir(scope: Scope, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `paystate-bench-${name}-`));
  tempDirs.add(dir);
  scope.defer(() => {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  });
  return dir;
}

/** Where the system under test writes its V8 CPU profile (`--profile`, see cpu-profile-preload.ts), if anywhere. */
export interface ProfileTarget {
  dir: string;
}

export interface Started {
  proc: Proc;
  /** SIGKILL now (a crash); the scope will not stop it again. */
  crash(): Promise<void>;
}

async function launch(
  scope: Scope,
  entry: string,
  env: Record<string, string>,
  args: string[],
  profile: ProfileTarget | undefined,
  nodeFlags: string[],
): Promise<Started> {
  if (profile) mkdirSync(profile.dir, { recursive: true });
  const nodeOptions: Record<string, string> = profile
    ? { NODE_OPTIONS: `--import tsx --import ${PROFILER}`, BENCH_CPU_PROFILE_DIR: profile.dir }
    : {};
  const proc = await startProcess(entry, { ...env, ...nodeOptions }, args, nodeFlags);
  running.add(proc);
  let stopped = false;
  // A process that dies on its own takes its reason with it unless we keep its last words.
  const lastLines: string[] = [];
  const keep = (chunk: Buffer) => {
    lastLines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
    lastLines.splice(0, Math.max(0, lastLines.length - 20));
  };
  const logged = new LogSummary();
  for (const stream of [proc.child.stdout, proc.child.stderr]) {
    stream?.on('data', keep);
    stream?.on('data', (chunk: Buffer) => logged.add(chunk));
  }
  proc.child.once('exit', (code, signal) => {
    if (!stopped) console.error(`  ${entry} exited unexpectedly (${signal ?? `code ${code}`}); its last output:\n${lastLines.join('\n')}`);
  });
  const stop = async (signal: NodeJS.Signals) => {
    if (stopped) return;
    stopped = true;
    // A profile is only written on a clean exit; give it time, then insist.
    const insist = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
    await proc.kill(signal);
    clearTimeout(insist);
    running.delete(proc);
    const summary = logged.report(`${entry} (pid ${proc.child.pid})`);
    if (summary) console.log(summary);
  };
  scope.defer(() => stop(profile ? 'SIGTERM' : 'SIGKILL'));
  return { proc, crash: () => stop('SIGKILL') };
}

export function startMockPg(scope: Scope, flags: string[] = []): Promise<Started> {
  return launch(scope, 'src/mock-pg/main.ts', { LOG_LEVEL: 'warn', PG_MOCK_PORT: '0', PG_SECRET }, flags, undefined, []);
}

/** The environment that gives a service its database: a SQLite file in a temp directory, or a new PostgreSQL database. */
export async function databaseFor(scope: Scope, name: string, database: DatabaseKind): Promise<Record<string, string>> {
  if (database === 'postgres') return { DATABASE_URL: await newBenchDatabase(scope, name) };
  return { DATABASE_PATH: join(tempDir(scope, name), 'paystate.db') };
}

export interface ServiceOptions {
  /** DATABASE_PATH or DATABASE_URL (see databaseFor). */
  database: Record<string, string>;
  pgUrl: string;
  /** Overrides of the service's defaults for this part (timeouts, retries, instance id). */
  env?: Record<string, string>;
  profile?: ProfileTarget | undefined;
}

export function startService(scope: Scope, options: ServiceOptions): Promise<Started> {
  const env = {
    LOG_LEVEL: 'warn',
    SQLITE_SYNCHRONOUS: 'FULL',
    ADMIN_TOKEN,
    PG_SECRET,
    PORT: '0',
    PG_MOCK_PORT: '0',
    PG_BASE_URL: options.pgUrl,
    ...options.database,
    ...options.env,
  };
  return launch(scope, 'src/main.ts', env, [], options.profile, SERVICE_NODE_FLAGS);
}

/** The lease owner id of a part's service process `index` (from 0): a restart with it takes its leases back. */
export function instanceId(name: string, index: number): string {
  return `bench-${name}-${index + 1}`;
}

/**
 * `count` service processes on one database, each with its own port and lease owner id,
 * started together (they migrate a new database once between them). All of them are
 * waited for, so that none is left running unstopped when another fails to start.
 */
export async function startServices(scope: Scope, count: number, name: string, options: ServiceOptions): Promise<Started[]> {
  const start = (index: number) => startService(scope, { ...options, env: { ...options.env, INSTANCE_ID: instanceId(name, index) } });
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i)));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return started.map((result) => (result as PromiseFulfilledResult<Started>).value);
}

export function startBarePipeline(scope: Scope, options: ServiceOptions): Promise<Started> {
  const env = {
    SQLITE_SYNCHRONOUS: 'FULL',
    PG_SECRET,
    PG_BASE_URL: options.pgUrl,
    ...options.database,
  };
  // The bound runs on the service's runtime settings, or the ratio compares runtimes.
  return launch(scope, 'scripts/bench/bare-pipeline.ts', env, [], options.profile, SERVICE_NODE_FLAGS);
}

/** The products a part's payments buy (`context.products` of them, one unit each, evenly), with stock for all; their ids. */
export function stockProducts(url: string, context: { payments: number; products: number }): Promise<string[]> {
  return createProducts(url, context.products, Math.ceil(context.payments / context.products) + 1);
}

export interface ServiceStack {
  mock: Started;
  /** DATABASE_PATH or DATABASE_URL. */
  database: Record<string, string>;
  /** context.setup.instances processes on one database. */
  services: Started[];
  urls: string[];
  /** One process's URL, each in turn: the bench's own reads spread as a load balancer would spread them. */
  anyUrl(): string;
  /** The first process, for the parts that run one. */
  service: Started;
  url: string;
  /** Product ids with stock for every payment of the part. */
  products: string[];
}

/**
 * The usual part: a mock PG (with `mockFlags`), the service processes of the part's setup
 * on a fresh database, and products to buy. `env` is the part's own settings; the
 * options' `--env` overrides them.
 */
export async function startServiceStack(
  scope: Scope,
  name: string,
  context: PartContext,
  options: { mockFlags?: string[]; env?: Record<string, string> } = {},
): Promise<ServiceStack> {
  const database = await databaseFor(scope, name, context.setup.database);
  const mock = await startMockPg(scope, options.mockFlags);
  const services = await startServices(scope, context.setup.instances, name, {
    database,
    pgUrl: mock.proc.url,
    env: { ...options.env, ...context.serviceEnv },
    profile: context.profile,
  });
  const urls = services.map((s) => s.proc.url);
  const products = await stockProducts(urls[0]!, context);
  let turn = 0;
  const anyUrl = () => urls[turn++ % urls.length]!;
  return { mock, database, services, urls, anyUrl, service: services[0]!, url: urls[0]!, products };
}
