import { describe, expect, it } from 'vitest';
import type { Proc } from '../../scripts/lib/processes.ts';
import { dateAt } from '../../src/settlement/business-day.ts';
import { startFaultyProxy } from '../support/faulty-proxy.ts';
import { startMerchantReceiver } from '../support/merchant-receiver.ts';
import { ADMIN, createProducts, post, purchaseLoad, useServiceProcesses, waitUntilAtRest } from '../support/service-processes.ts';

const processes = useServiceProcesses('e2e');

describe('crash recovery with real processes', () => {
  it('loses, double-charges and leaks nothing across three kill -9 restarts', async () => {
    const pg = await processes.startMockPg();
    let service = await processes.startService(pg.url, 'e2e-single');
    await createProducts(service.url);

    const killAt = new Set([100, 250, 400]);
    let kills = 0;
    const ids = await purchaseLoad(500, () => service.url, async (done) => {
      if (!killAt.has(done)) return;
      killAt.delete(done);
      await service.kill('SIGKILL');
      kills++;
      service = await processes.startService(pg.url, 'e2e-single');
    });
    expect(kills).toBe(3);
    expect(new Set(ids.values()).size).toBe(500);

    await waitUntilAtRest(() => service.url, 120_000);
    const report = await processes.expectNoViolations(pg.url);
    expect(report.payments).toBe(500);
    expect((report.byStatus.completed ?? 0) + (report.byStatus.rejected ?? 0)).toBeGreaterThan(0);
  }, 240_000);

  it('keeps two processes on one database from running a payment twice, and takes over a dead one', async () => {
    const pg = await processes.startMockPg();
    let first = await processes.startService(pg.url, 'e2e-first');
    let second: Proc | undefined = await processes.startService(pg.url, 'e2e-second');
    await createProducts(first.url);

    let phase = 0;
    const ids = await purchaseLoad(
      300,
      (i) => (second && i % 2 === 1 ? second.url : first.url),
      async (done) => {
        if (done === 90 && phase === 0) {
          phase = 1;
          await first.kill('SIGKILL');
          first = await processes.startService(pg.url, 'e2e-first');
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
    const report = await processes.expectNoViolations(pg.url);
    expect(report.payments).toBe(300);
  }, 240_000);

  it('delivers after a kill -9 the payment events committed before it, to an endpoint that was down', async () => {
    const pg = await processes.startMockPg();
    // Retries a second apart: the endpoint comes back after the kill, while deliveries are pending.
    const env = { WEBHOOK_RETRY_SCHEDULE_MS: '1000,1000,1000,1000,1000,1000,1000,1000,1000,1000', WEBHOOK_POLL_MS: '50' };
    let service = await processes.startService(pg.url, 'e2e-events', env);
    await createProducts(service.url);
    const merchant = await startMerchantReceiver();
    const endpoint = await post(service.url, '/v1/admin/webhook-endpoints', { url: merchant.url, events: ['*'] }, ADMIN);
    merchant.secret = (endpoint.body as unknown as { secret: string }).secret;
    merchant.answerAlways(503);
    try {
      const ids = await purchaseLoad(30, () => service.url, async () => undefined);
      await waitUntilAtRest(() => service.url, 60_000);
      expect(merchant.received).toEqual([]);
      await service.kill('SIGKILL');
      merchant.answerAlways(undefined);
      service = await processes.startService(pg.url, 'e2e-events', env);
      const db = await processes.session();
      const committed = (await db.all<{ id: string }>('select id from payment_events')).map((event) => event.id);
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
    const pg = await processes.startMockPg({ calm: true });
    const proxy = await startFaultyProxy(pg.url);
    // The PG's list answers slowly: the run is killed while it waits for it, its figures written.
    const env = { PG_TIMEOUT_MS: '20000', SETTLEMENT_RUN_WAIT_MS: '0', LEASE_TTL_MS: '2000', SETTLEMENT_POLL_MS: '100' };
    let service = await processes.startService(proxy.url, 'e2e-settlement-first', env);
    try {
      await createProducts(service.url);
      await post(service.url, '/v1/admin/partners', { id: 'partner-e2e', name: 'E2E', feeRateBps: 250 }, ADMIN);
      const ids = [...(await purchaseLoad(40, () => service.url, async () => undefined)).values()];
      await waitUntilAtRest(() => service.url, 60_000);
      const refunded = ids.slice(0, 5);
      for (const id of refunded) await post(service.url, `/v1/payments/${id}/cancel`, { reason: 'e2e refund', amount: 1_000 }, { 'idempotency-key': `refund-${id}` });
      await waitUntilAtRest(() => service.url, 60_000);

      const db = await processes.session();
      // A plain PostgreSQL connection reads bigint columns as strings.
      const movements = (await db.all<{ kind: string; at: number | string }>('select kind, at from money_movements')).map((m) => ({
        kind: m.kind,
        at: Number(m.at),
      }));
      const dates = new Set(movements.map((m) => dateAt(m.at, 'Asia/Seoul')));
      expect(dates.size, 'the payments straddle midnight in Seoul: run the test again').toBe(1);
      const [date] = [...dates] as [string];
      const charges = movements.filter((m) => m.kind === 'charge');
      const refunds = movements.filter((m) => m.kind !== 'charge');
      expect(charges.length).toBeGreaterThan(0);
      expect(refunds.length).toBeGreaterThan(0);

      proxy.holdNext('GET', /^\/payments-by-cursor/, 5_000, 10);
      expect((await post(service.url, '/v1/admin/settlements/run', { date }, ADMIN)).status).toBe(202);
      const state = async () => (await db.get<{ state: string }>('select state from settlement_runs where date = @date', { date }))?.state;
      const deadline = Date.now() + 20_000;
      while ((await state()) !== 'processing.checking' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await state()).toBe('processing.checking');
      await service.kill('SIGKILL');

      // Another process takes the run up once the dead one's lease has run out.
      service = await processes.startService(proxy.url, 'e2e-settlement-second', env);
      const finished = Date.now() + 60_000;
      while ((await state()) !== 'completed' && Date.now() < finished) await new Promise((r) => setTimeout(r, 100));
      expect(await state()).toBe('completed');

      const figures = ['payment_count', 'gross_amount', 'refund_count', 'refund_amount', 'fee_amount', 'net_amount'];
      const settlements = (await db.all<Record<string, unknown>>('select * from settlements where date = @date', { date })).map((row) => ({
        ...row,
        ...Object.fromEntries(figures.map((column) => [column, Number(row[column])])),
      }));
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
      const lines = await db.get<{ lines: number | string }>('select count(*) as lines from settlement_lines');
      expect(Number(lines?.lines)).toBe(movements.length);
      const run = await db.get<{ requests: number | string }>('select requests from settlement_runs where date = @date', { date });
      expect(Number(run?.requests)).toBe(1);
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
