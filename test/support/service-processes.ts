import { afterEach, expect } from 'vitest';
import { checkInvariants, type InvariantReport } from '../../scripts/invariants/check-invariants.ts';
import { fetchLedger } from '../../scripts/invariants/ledger.ts';
import { openReadOnly } from '../../scripts/invariants/read-only-database.ts';
import { SERVICE_NODE_FLAGS, startProcess, type Proc } from '../../scripts/lib/processes.ts';
import { useTempDatabase, type DatabaseLocation, type Session } from './temp-database.ts';

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const PG_SECRET = 'e2e-pg-secret';
export const PRODUCTS = [
  { id: 'seat-a', price: 120_000, stock: 150 },
  { id: 'seat-b', price: 80_000, stock: 100 },
  { id: 'book-c', price: 15_000, stock: 200 },
];

export interface ServiceProcesses {
  /** The mock PG in its own process: with chaos (failures, ambiguous answers, 2 s delays) unless `calm`. */
  startMockPg(options?: { calm?: boolean }): Promise<Proc>;
  /** A service process on the test's database, with short timeouts, retries and leases. */
  startService(pgUrl: string, instanceId: string, env?: Record<string, string>): Promise<Proc>;
  /** Where the services keep their data: a SQLite file, or (the `postgres` project) a new database of the test's own. */
  location(): Promise<DatabaseLocation>;
  /** A connection of the test's own to the services' database (each read sees what is committed now), closed after the test. */
  session(): Promise<Session>;
  /** Reads the database as of one instant and the mock PG's ledger, and expects the invariant checker (lease audit included) to find nothing. */
  expectNoViolations(pgUrl: string): Promise<InvariantReport>;
}

/**
 * Real service and mock PG processes on one database in the run's dialect, killed after
 * each test of the calling file before its database is removed. Call at the top level.
 */
export function useServiceProcesses(name: string): ServiceProcesses {
  const database = useTempDatabase(name);
  // Tracked from the moment they are started: one still starting when the test fails (another failed to start) must not outlive it.
  const procs: Array<Promise<Proc>> = [];
  const track = (proc: Promise<Proc>) => {
    procs.push(proc);
    return proc;
  };
  // Registered after useTempDatabase's: vitest runs after-hooks last first, so the processes die before their files go.
  afterEach(async () => {
    const started = await Promise.allSettled(procs.splice(0));
    await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.kill('SIGKILL') : undefined)));
  });
  return {
    async startMockPg({ calm = false } = {}) {
      const chaos = ['--failure-rate', '0.3', '--ambiguous-rate', '0.1', '--delay-rate', '0.2', '--delay-ms', '2000'];
      return track(startProcess('src/mock-pg/main.ts', { PG_SECRET, PG_MOCK_PORT: '0', CHAOS_SEED: '7' }, calm ? [] : chaos));
    },
    async startService(pgUrl, instanceId, env = {}) {
      const { path, url } = await database.location();
      const serviceEnv = {
        PORT: '0',
        DATABASE_PATH: path,
        ...(url === undefined ? {} : { DATABASE_URL: url }),
        PG_BASE_URL: pgUrl,
        PG_SECRET,
        ADMIN_TOKEN,
        INSTANCE_ID: instanceId,
        PG_TIMEOUT_MS: '500',
        RETRY_BASE_MS: '100',
        RETRY_CAP_MS: '1000',
        PG_NOT_FOUND_GRACE_MS: '1000',
        RECONCILE_CRON: '* * * * * *',
        STUCK_AFTER_MS: '5000',
        LEASE_TTL_MS: '3000',
        ...env,
      };
      return track(startProcess('src/main.ts', serviceEnv, [], SERVICE_NODE_FLAGS));
    },
    location: () => database.location(),
    session: () => database.session(),
    async expectNoViolations(pgUrl) {
      const ledger = await fetchLedger(pgUrl, PG_SECRET);
      const { path, url } = await database.location();
      const checked = await openReadOnly(url === undefined ? { path } : { url });
      try {
        const report = await checkInvariants(checked.q, ledger);
        expect(report.violations).toEqual([]);
        return report;
      } finally {
        await checked.close();
      }
    },
  };
}

export async function post(url: string, path: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as { id: string; status: string } };
}

/**
 * Buys `count` times with bounded concurrency; purchase i goes to `target(i)`, asked again
 * on each try. A purchase whose service just died is sent again with the same
 * Idempotency-Key, as a real client would, until it lands. Resolves with each purchase's
 * payment id.
 */
export async function purchaseLoad(count: number, target: (i: number) => string, onProgress: (done: number) => Promise<void>) {
  const ids = new Map<number, string>();
  let next = 0;
  let done = 0;
  async function buy(i: number): Promise<void> {
    const product = PRODUCTS[i % PRODUCTS.length]!;
    const body = { customerId: `c-${i % 37}`, items: [{ productId: product.id, quantity: 1 + (i % 2) }], billingKey: `bk_card_${i}` };
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const reply = await post(target(i), '/v1/payments', body, { 'idempotency-key': `e2e-${i}` });
        expect(reply.status).toBe(202);
        ids.set(i, reply.body.id);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  async function worker(): Promise<void> {
    while (next < count) {
      const i = next++;
      await buy(i);
      done++;
      await onProgress(done);
    }
  }
  await Promise.all(Array.from({ length: 20 }, worker));
  return ids;
}

/** Polls the service at `url()` until no payment is in flight (processing, cancel_requested), or throws after `timeoutMs`. */
export async function waitUntilAtRest(url: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(
      ['processing', 'cancel_requested'].map(async (status) => {
        const response = await fetch(`${url()}/v1/payments?status=${status}&limit=1`);
        return ((await response.json()) as { data: unknown[] }).data.length;
      }),
    );
    if (counts.every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error('payments still in flight after the deadline');
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function createProducts(url: string): Promise<void> {
  for (const product of PRODUCTS) {
    const reply = await post(url, '/v1/products', { ...product, name: product.id, partnerId: 'partner-e2e' }, ADMIN);
    expect(reply.status).toBe(201);
  }
}
