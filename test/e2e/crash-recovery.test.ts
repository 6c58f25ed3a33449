import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteSql } from '../../db/sql.ts';
import { checkInvariants } from '../../scripts/invariants/check-invariants.ts';
import { fetchLedger } from '../../scripts/invariants/ledger.ts';
import { SERVICE_NODE_FLAGS, startProcess, type Proc } from '../../scripts/lib/processes.ts';
import { dateAt } from '../../src/settlement/business-day.ts';
import { startFaultyProxy } from '../support/faulty-proxy.ts';
import { startMerchantReceiver } from '../support/merchant-receiver.ts';

const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const PG_SECRET = 'e2e-pg-secret';
const PRODUCTS = [
  { id: 'seat-a', price: 120_000, stock: 150 },
  { id: 'seat-b', price: 80_000, stock: 100 },
  { id: 'book-c', price: 15_000, stock: 200 },
];

let dir: string;
let procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  procs = [];
  rmSync(dir, { recursive: true, force: true });
});

function startMockPg(): Promise<Proc> {
  return startProcess('src/mock-pg/main.ts', { PG_SECRET, PG_MOCK_PORT: '0', CHAOS_SEED: '7' }, [
    '--failure-rate', '0.3',
    '--ambiguous-rate', '0.1',
    '--delay-rate', '0.2',
    '--delay-ms', '2000',
  ]);
}

async function startServiceProcess(pgUrl: string, instanceId: string, env: Record<string, string> = {}): Promise<Proc> {
  const proc = await startProcess('src/main.ts', {
    PORT: '0',
    DATABASE_PATH: join(dir, 'paystate.db'),
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
  }, [], SERVICE_NODE_FLAGS);
  procs.push(proc);
  return proc;
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as { id: string; status: string } };
}

/**
 * Buys `count` times with bounded concurrency. A purchase whose service just died is
 * sent again with the same Idempotency-Key, as a real client would, until it lands.
 */
async function purchaseLoad(count: number, target: (i: number) => string, onProgress: (done: number) => Promise<void>) {
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

async function waitUntilAtRest(url: () => string, timeoutMs: number): Promise<void> {
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

async function createProducts(url: string): Promise<void> {
  for (const product of PRODUCTS) {
    const reply = await post(url, '/v1/products', { ...product, name: product.id, partnerId: 'partner-e2e' }, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(reply.status).toBe(201);
  }
}

function expectNoViolations(pgUrl: string) {
  return async () => {
    const ledger = await fetchLedger(pgUrl, PG_SECRET);
    const db = new Database(join(dir, 'paystate.db'), { readonly: true });
    try {
      const report = await checkInvariants(sqliteSql(db), ledger);
      expect(report.violations).toEqual([]);
      return report;
    } finally {
      db.close();
    }
  };
}

describe('crash recovery with real processes', () => {
  it('loses, double-charges and leaks nothing across three kill -9 restarts', async () => {
    dir = mkdtempSync(join(tmpdir(), 'paystate-e2e-'));
    const pg = await startMockPg();
    procs.push(pg);
    let service = await startServiceProcess(pg.url, 'e2e-single');
    await createProducts(service.url);

    const killAt = new Set([100, 250, 400]);
    let kills = 0;
    const ids = await purchaseLoad(500, () => service.url, async (done) => {
      if (!killAt.has(done)) return;
      killAt.delete(done);
      await service.kill('SIGKILL');
      kills++;
      service = await startServiceProcess(pg.url, 'e2e-single');
    });
    expect(kills).toBe(3);
    expect(new Set(ids.values()).size).toBe(500);

    await waitUntilAtRest(() => service.url, 120_000);
    const report = await expectNoViolations(pg.url)();
    expect(report.payments).toBe(500);
    expect((report.byStatus.completed ?? 0) + (report.byStatus.rejected ?? 0)).toBeGreaterThan(0);
  }, 240_000);

  it('keeps two processes on one database from running a payment twice, and takes over a dead one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'paystate-e2e-'));
    const pg = await startMockPg();
    procs.push(pg);
    let first = await startServiceProcess(pg.url, 'e2e-first');
    let second: Proc | undefined = await startServiceProcess(pg.url, 'e2e-second');
    await createProducts(first.url);

    let phase = 0;
    const ids = await purchaseLoad(
      300,
      (i) => (second && i % 2 === 1 ? second.url : first.url),
      async (done) => {
        if (done === 90 && phase === 0) {
          phase = 1;
          await first.kill('SIGKILL');
          first = await startServiceProcess(pg.url, 'e2e-first');
        } else if (done === 180 && phase === 1 && second) {
          phase = 2;
          // Never restarted: its payments must be taken over once their leases expire.
          const dead = second;
          second = undefined;
          await dead.kill('SIGKILL');
        }
      },
    );
    expect(phase).toBe(2);
    expect(new Set(ids.values()).size).toBe(300);

    await waitUntilAtRest(() => first.url, 120_000);
    const report = await expectNoViolations(pg.url)();
    expect(report.payments).toBe(300);
  }, 240_000);

  it('delivers after a kill -9 the payment events committed before it, to an endpoint that was down', async () => {
    dir = mkdtempSync(join(tmpdir(), 'paystate-e2e-'));
    const pg = await startMockPg();
    procs.push(pg);
    // Retries a second apart: the endpoint comes back after the kill, while deliveries are pending.
    const env = { WEBHOOK_RETRY_SCHEDULE_MS: '1000,1000,1000,1000,1000,1000,1000,1000,1000,1000', WEBHOOK_POLL_MS: '50' };
    let service = await startServiceProcess(pg.url, 'e2e-events', env);
    await createProducts(service.url);
    const merchant = await startMerchantReceiver();
    const endpoint = await post(service.url, '/v1/admin/webhook-endpoints', { url: merchant.url, events: ['*'] }, { authorization: `Bearer ${ADMIN_TOKEN}` });
    merchant.secret = (endpoint.body as unknown as { secret: string }).secret;
    merchant.answerAlways(503);
    try {
      const ids = await purchaseLoad(30, () => service.url, async () => undefined);
      await waitUntilAtRest(() => service.url, 60_000);
      expect(merchant.received).toEqual([]);
      await service.kill('SIGKILL');
      merchant.answerAlways(undefined);
      service = await startServiceProcess(pg.url, 'e2e-events', env);
      const db = new Database(join(dir, 'paystate.db'), { readonly: true });
      const committed = db.prepare('select id from payment_events').pluck().all() as string[];
      db.close();
      expect(committed.length).toBeGreaterThanOrEqual(60);
      const deadline = Date.now() + 60_000;
      while (new Set(merchant.received.map((e) => e.id)).size < committed.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(new Set(merchant.received.map((e) => e.id))).toEqual(new Set(committed));
      expect(new Set(merchant.received.map((e) => e.paymentId))).toEqual(new Set(ids.values()));
      expect(merchant.forged).toBe(0);
    } finally {
      await merchant.close();
    }
  }, 120_000);

  it('settles a date once, with the right figures, after a kill -9 in the middle of its run', async () => {
    dir = mkdtempSync(join(tmpdir(), 'paystate-e2e-'));
    const pg = await startProcess('src/mock-pg/main.ts', { PG_SECRET, PG_MOCK_PORT: '0' });
    procs.push(pg);
    const proxy = await startFaultyProxy(pg.url);
    // The PG's list answers slowly: the run is killed while it waits for it, its figures written.
    const env = { PG_TIMEOUT_MS: '20000', SETTLEMENT_RUN_WAIT_MS: '0', LEASE_TTL_MS: '2000', SETTLEMENT_POLL_MS: '100' };
    let service = await startServiceProcess(proxy.url, 'e2e-settlement-first', env);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    try {
      await createProducts(service.url);
      await post(service.url, '/v1/admin/partners', { id: 'partner-e2e', name: 'E2E', feeRateBps: 250 }, admin);
      const ids = [...(await purchaseLoad(40, () => service.url, async () => undefined)).values()];
      await waitUntilAtRest(() => service.url, 60_000);
      const refunded = ids.slice(0, 5);
      for (const id of refunded) await post(service.url, `/v1/payments/${id}/cancel`, { reason: 'e2e refund', amount: 1_000 }, { 'idempotency-key': `refund-${id}` });
      await waitUntilAtRest(() => service.url, 60_000);

      const db = new Database(join(dir, 'paystate.db'), { readonly: true });
      const read = <T>(sql: string) => db.prepare(sql).all() as T[];
      const movements = read<{ paymentId: string; kind: string; amount: number; at: number }>(
        'select payment_id as paymentId, kind, amount, at from money_movements',
      );
      const dates = new Set(movements.map((m) => dateAt(m.at, 'Asia/Seoul')));
      expect(dates.size, 'the payments straddle midnight in Seoul: run the test again').toBe(1);
      const [date] = [...dates] as [string];
      const charges = movements.filter((m) => m.kind === 'charge');
      const refunds = movements.filter((m) => m.kind !== 'charge');
      expect(charges.length).toBeGreaterThan(0);
      expect(refunds.length).toBeGreaterThan(0);

      proxy.holdNext('GET', /^\/payments-by-cursor/, 5_000, 10);
      expect((await post(service.url, '/v1/admin/settlements/run', { date }, admin)).status).toBe(202);
      const state = () => (db.prepare('select state from settlement_runs where date = ?').get(date) as { state: string } | undefined)?.state;
      const deadline = Date.now() + 20_000;
      while (state() !== 'processing.checking' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(state()).toBe('processing.checking');
      await service.kill('SIGKILL');

      // Another process takes the run up once the dead one's lease has run out.
      service = await startServiceProcess(proxy.url, 'e2e-settlement-second', env);
      const finished = Date.now() + 60_000;
      while (state() !== 'completed' && Date.now() < finished) await new Promise((r) => setTimeout(r, 100));
      expect(state()).toBe('completed');

      const settlements = read<Record<string, unknown>>(`select * from settlements where date = '${date}'`);
      // Expected figures from what the API said, not from the table settlement reads.
      const paid = await Promise.all(ids.map(async (id) => (await (await fetch(`${service.url}/v1/payments/${id}`)).json()) as { status: string; amount: number }));
      const kept = paid.filter((p) => p.status === 'completed' || p.status === 'partially_cancelled');
      expect(kept).toHaveLength(ids.length);
      const fee = kept.reduce((sum, p) => sum + Math.floor((p.amount * 250) / 10_000), 0);
      const gross = kept.reduce((sum, p) => sum + p.amount, 0);
      const given = refunded.length * 1_000;
      expect([charges.length, refunds.length]).toEqual([ids.length, refunded.length]);
      expect(settlements).toMatchObject([
        {
          partner_id: 'partner-e2e',
          status: 'completed',
          payment_count: charges.length,
          gross_amount: gross,
          refund_count: refunds.length,
          refund_amount: given,
          fee_amount: fee,
          net_amount: gross - given - fee,
          discrepancies: '[]',
        },
      ]);
      expect(read(`select count(*) as lines from settlement_lines`)).toEqual([{ lines: movements.length }]);
      expect(read(`select requests from settlement_runs where date = '${date}'`)).toEqual([{ requests: 1 }]);
      db.close();
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
