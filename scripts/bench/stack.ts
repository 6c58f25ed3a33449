/** The processes a bench part runs against: mock PG, service or bare pipeline, each on a fresh temp database. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS, startProcess, type Proc } from '../lib/processes.ts';
import { createProducts } from './api.ts';

export const PG_SECRET = 'bench-pg-secret';
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';

const PROFILER = fileURLToPath(new URL('./cpu-profile-preload.ts', import.meta.url));

const running = new Set<Proc>();
const tempDirs = new Set<string>();

/** Last resort on exit, error or Ctrl-C: synchronous, so it also works in an 'exit' handler. */
export function killEverything(): void {
  for (const proc of running) proc.child.kill('SIGKILL');
  running.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
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
  proc.child.stdout?.on('data', keep);
  proc.child.stderr?.on('data', keep);
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
  };
  scope.defer(() => stop(profile ? 'SIGTERM' : 'SIGKILL'));
  return { proc, crash: () => stop('SIGKILL') };
}

export function startMockPg(scope: Scope, flags: string[] = []): Promise<Started> {
  return launch(scope, 'src/mock-pg/main.ts', { LOG_LEVEL: 'warn', PG_MOCK_PORT: '0', PG_SECRET }, flags, undefined, []);
}

export interface ServiceOptions {
  databasePath: string;
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
    DATABASE_PATH: options.databasePath,
    PORT: '0',
    PG_MOCK_PORT: '0',
    PG_BASE_URL: options.pgUrl,
    ...options.env,
  };
  return launch(scope, 'src/main.ts', env, [], options.profile, SERVICE_NODE_FLAGS);
}

export function startBarePipeline(scope: Scope, options: ServiceOptions): Promise<Started> {
  const env = {
    SQLITE_SYNCHRONOUS: 'FULL',
    PG_SECRET,
    DATABASE_PATH: options.databasePath,
    PG_BASE_URL: options.pgUrl,
  };
  // The bound runs on the service's runtime settings, or the ratio compares runtimes.
  return launch(scope, 'scripts/bench/bare-pipeline.ts', env, [], options.profile, SERVICE_NODE_FLAGS);
}

/** Products a part sells: enough of them that stock rows are not one hot spot. */
export const PRODUCTS = 8;

export interface ServiceStack {
  mock: Started;
  service: Started;
  url: string;
  /** Product ids with stock for every payment of the part. */
  products: string[];
}

/** The usual part: a mock PG (with `mockFlags`), the service on a fresh database, and products to buy. */
export async function startServiceStack(
  scope: Scope,
  part: string,
  options: { payments: number; mockFlags?: string[]; env?: Record<string, string>; profile?: ProfileTarget | undefined },
): Promise<ServiceStack> {
  const dir = tempDir(scope, part);
  const mock = await startMockPg(scope, options.mockFlags);
  const service = await startService(scope, {
    databasePath: join(dir, 'paystate.db'),
    pgUrl: mock.proc.url,
    env: options.env,
    profile: options.profile,
  });
  const url = service.proc.url;
  const products = await createProducts(url, PRODUCTS, Math.ceil(options.payments / PRODUCTS) + 1);
  return { mock, service, url, products };
}
