import { describe, expect, it } from 'vitest';
import { findRun } from '../../db/settlement-runs-repo.ts';
import { listSettlements } from '../../db/settlements-repo.ts';
import { refuseWrites } from '../support/refuse-writes.ts';
import { useSettlementRig, type SettlementRig } from '../support/settlement-rig.ts';

// How runs are asked for and driven: requests that arrive while a run is under way, the
// schedule's "once a day is over", and a run whose write failed.

let rig: SettlementRig;
useSettlementRig('settlement-runs', (started) => (rig = started));

const DATE = '2026-12-01';
const run = async () => (await findRun(rig.db.read, DATE))!;
const settlement = async () => (await listSettlements(rig.db.read, { date: DATE }))[0]!;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('asking for a date', () => {
  it('answers a request made while the date runs with a run that starts after it', async () => {
    await rig.charge('pay_1', 'p-1', 10_000, '2026-12-01T01:00:00.000Z');
    // The PG's list is slow: the run is in its check when the second request comes.
    rig.proxy.holdNext('GET', /^\/payments-by-cursor/, 1_000);
    await rig.runner.request(DATE);
    await until(async () => (await run()).state === 'processing.checking');
    await rig.charge('pay_2', 'p-1', 20_000, '2026-12-01T02:00:00.000Z');
    expect(await rig.runner.request(DATE)).toBe(true);
    await rig.runner.settled(DATE, 10_000);
    expect(await run()).toMatchObject({ requests: 2, pending: 0, status: 'completed' });
    expect(await settlement()).toMatchObject({ status: 'completed', paymentCount: 2, grossAmount: 30_000, discrepancies: '[]' });
  });

  it('lets the schedule ask again for a date last asked before its day ended, once', async () => {
    await rig.charge('pay_1', 'p-1', 10_000, '2026-12-01T01:00:00.000Z');
    await rig.settle(DATE); // an operator, while the day was still going on
    await rig.charge('pay_2', 'p-1', 20_000, '2026-12-01T14:00:00.000Z');
    // The day "ends" now, for this test; the schedule fires after it.
    const dayEnd = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await rig.runner.request(DATE, dayEnd)).toBe(true);
    expect(await rig.runner.request(DATE, dayEnd)).toBe(false); // another process firing too
    await rig.runner.settled(DATE, 10_000);
    expect(await settlement()).toMatchObject({ paymentCount: 2, grossAmount: 30_000 });
    expect((await run()).requests).toBe(2);
  });
});

describe('a run whose write fails', () => {
  it('is taken up again from its last write, the request still pending, and completes', async () => {
    await rig.charge('pay_1', 'p-1', 10_000, '2026-12-01T01:00:00.000Z');
    await rig.settle(DATE);
    // The next write of the run's snapshot fails (the disk, another process's lock…).
    const allow = await refuseWrites(rig.db, {
      table: 'settlement_runs',
      event: 'UPDATE',
      message: 'disk I/O error',
      when: 'NEW.snapshot <> OLD.snapshot',
    });
    await rig.partner('p-2', 100);
    await rig.charge('pay_2', 'p-1', 20_000, '2026-12-01T02:00:00.000Z');
    await rig.runner.request(DATE);
    await until(() => !rig.runner.isLive(DATE));
    expect(await run()).toMatchObject({ status: 'completed', pending: 1 });
    await allow();
    await until(async () => {
      const row = await run();
      return row.pending === 0 && row.status === 'completed';
    });
    const settlements = await listSettlements(rig.db.read, { date: DATE });
    expect(settlements.map((s) => [s.partnerId, s.status, s.grossAmount])).toEqual([
      ['p-1', 'completed', 30_000],
      ['p-2', 'completed', 0],
    ]);
    expect(settlements.every((s) => s.completedAt !== null)).toBe(true);
  });

  it('writes no figures when the transition into computing was refused, and computes them once it commits', async () => {
    await rig.charge('pay_1', 'p-1', 10_000, '2026-12-01T01:00:00.000Z');
    const allow = await refuseWrites(rig.db, {
      table: 'settlement_runs',
      event: 'UPDATE',
      message: 'disk I/O error',
      when: "NEW.state = 'processing.computing' AND NEW.snapshot <> OLD.snapshot",
    });

    await rig.runner.request(DATE);
    await until(() => !rig.runner.isLive(DATE));

    // The step ran after a transition the database refused: it must not have written.
    expect(await listSettlements(rig.db.read, { date: DATE })).toEqual([]);
    expect(await run()).toMatchObject({ state: 'requested', pending: 1 });
    await allow();
    await until(async () => (await run()).status === 'completed');
    expect(await settlement()).toMatchObject({ status: 'completed', paymentCount: 1, grossAmount: 10_000 });
  });
});

describe('payments the PG holds that this service never made', () => {
  it('are alerted once, however often the date runs', async () => {
    await rig.charge('pay_ok', 'p-1', 30_000, '2026-12-01T01:00:00.000Z');
    rig.mock.editLedger('pay_stranger', { status: 'PAID', amount: 5_000, requestedAt: '2026-12-01T01:00:00.000Z', paidAt: '2026-12-01T01:00:00.000Z' });
    await rig.settle(DATE);
    await rig.settle(DATE);
    await rig.settle(DATE);
    expect((await rig.alerts()).filter((a) => a.paymentId === 'pay_stranger')).toHaveLength(1);
    expect(JSON.parse((await run()).unattributed)).toEqual([{ paymentId: 'pay_stranger', kind: 'not_counted_here', ours: null, pg: 5_000 }]);
  });
});
