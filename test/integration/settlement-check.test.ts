import { describe, expect, it } from 'vitest';
import { findRun } from '../../db/settlement-runs-repo.ts';
import { listSettlements, type SettlementRow } from '../../db/settlements-repo.ts';
import { insertPaymentRow } from '../support/payment-rows.ts';
import { useSettlementRig, type SettlementRig } from '../support/settlement-rig.ts';

// The check against the PG's own list: each kind of disagreement is made by editing the
// mock PG's books after the payments were counted.

let rig: SettlementRig;
const rigs = useSettlementRig('settlement-check', (started) => (rig = started));

const DATE = '2026-12-01';
const MORNING = '2026-12-01T01:00:00.000Z'; // 10:00 KST
const of = (settlements: SettlementRow[], partnerId: string) => settlements.find((s) => s.partnerId === partnerId)!;
const discrepanciesOf = (s: SettlementRow) => JSON.parse(s.discrepancies) as Array<Record<string, unknown>>;
const listCalls = () => rig.proxy.seen.filter((r) => r.path.startsWith('/payments-by-cursor')).length;

describe('the check against the PG', () => {
  it('asks the PG for its list of the day and completes clean when the books agree', async () => {
    await rig.charge('pay_ok', 'p-1', 30_000, MORNING);
    const [settlement] = await rig.settle(DATE);
    expect(settlement).toMatchObject({ status: 'completed', discrepancies: '[]' });
    expect(listCalls()).toBe(1);
    expect(await rig.alerts()).toEqual([]);
  });

  it('reports a payment counted here that the PG does not show as paid', async () => {
    await rig.charge('pay_gone', 'p-1', 30_000, MORNING);
    await rig.charge('pay_failed', 'p-1', 10_000, '2026-12-01T02:00:00.000Z');
    rig.mock.removeFromLedger('pay_gone');
    rig.mock.editLedger('pay_failed', { status: 'FAILED' });
    const settlement = of(await rig.settle(DATE), 'p-1');
    expect(settlement.status).toBe('completed');
    expect(settlement.grossAmount).toBe(40_000); // the figures stay ours: the discrepancy says where they differ
    expect(discrepanciesOf(settlement)).toEqual([
      { paymentId: 'pay_gone', kind: 'not_paid_at_pg', ours: 30_000, pg: null },
      { paymentId: 'pay_failed', kind: 'not_paid_at_pg', ours: 10_000, pg: null },
    ]);
    expect(await rig.alerts()).toMatchObject([
      { severity: 'warning', paymentId: 'pay_gone', title: expect.stringContaining('not paid at the PG') },
      { severity: 'warning', paymentId: 'pay_failed' },
    ]);
  });

  it('reports a payment the PG took money for that settlement did not count, on its partner', async () => {
    await rig.charge('pay_counted', 'p-1', 30_000, MORNING);
    // Ours failed (no money moved, as far as we know); the PG's books say it was paid that day.
    await rig.db.commit.run((tx) => insertPaymentRow(tx, 'pay_missed', 'failed.closed', { partnerId: 'p-2', amount: 12_000, status: 'failed' }));
    rig.mock.editLedger('pay_missed', { status: 'PAID', amount: 12_000, requestedAt: MORNING, paidAt: '2026-12-01T01:00:01.000Z' });
    const day = await rig.settle(DATE);
    expect(discrepanciesOf(of(day, 'p-1'))).toEqual([]);
    // p-2 sold nothing that day as far as we know: its settlement exists to carry the disagreement.
    expect(of(day, 'p-2')).toMatchObject({ status: 'completed', paymentCount: 0, grossAmount: 0 });
    expect(discrepanciesOf(of(day, 'p-2'))).toEqual([{ paymentId: 'pay_missed', kind: 'not_counted_here', ours: null, pg: 12_000 }]);
    expect(await rig.alerts()).toMatchObject([{ severity: 'warning', paymentId: 'pay_missed', title: expect.stringContaining('not counted') }]);
  });

  it('reports a payment the PG shows with another amount', async () => {
    await rig.charge('pay_amount', 'p-1', 30_000, MORNING);
    rig.mock.editLedger('pay_amount', { amount: 33_000 });
    const [settlement] = await rig.settle(DATE);
    expect(discrepanciesOf(settlement!)).toEqual([{ paymentId: 'pay_amount', kind: 'amount_differs', ours: 30_000, pg: 33_000 }]);
    expect(await rig.alerts()).toHaveLength(1);
  });

  it('reports a payment the PG confirmed on another day than the one it was counted on', async () => {
    await rig.charge('pay_moved', 'p-1', 30_000, MORNING);
    rig.mock.editLedger('pay_moved', { requestedAt: '2026-11-30T01:00:00.000Z', paidAt: '2026-11-30T01:00:01.000Z' });
    const [settlement] = await rig.settle(DATE);
    expect(discrepanciesOf(settlement!)).toMatchObject([{ paymentId: 'pay_moved', kind: 'not_paid_at_pg' }]);
  });

  it('alerts on a payment the PG holds that this service never made, which no partner can carry', async () => {
    await rig.charge('pay_ok', 'p-1', 30_000, MORNING);
    rig.mock.editLedger('pay_stranger', { status: 'PAID', amount: 5_000, requestedAt: MORNING, paidAt: MORNING });
    const day = await rig.settle(DATE);
    expect(day.map(discrepanciesOf)).toEqual([[]]);
    expect(await rig.alerts()).toMatchObject([{ severity: 'warning', paymentId: 'pay_stranger', details: expect.stringContaining('"partnerId":null') }]);
  });

  it('does not alert again for a disagreement it already reported, when the date runs again', async () => {
    await rig.charge('pay_amount', 'p-1', 30_000, MORNING);
    rig.mock.editLedger('pay_amount', { amount: 33_000 });
    await rig.settle(DATE);
    const [again] = await rig.settle(DATE);
    expect(discrepanciesOf(again!)).toHaveLength(1);
    expect(await rig.alerts()).toHaveLength(1);
    // Settled at the PG since: the discrepancy goes with the next run.
    rig.mock.editLedger('pay_amount', { amount: 30_000 });
    const [fixed] = await rig.settle(DATE);
    expect(discrepanciesOf(fixed!)).toEqual([]);
  });

  it('reads every page of a long list', async () => {
    // Charged together: one group commit for all of them.
    await Promise.all(Array.from({ length: 1_205 }, (_, i) => rig.charge(`pay_${String(i).padStart(5, '0')}`, 'p-1', 1_000, MORNING)));
    const [settlement] = await rig.settle(DATE);
    expect(settlement).toMatchObject({ status: 'completed', paymentCount: 1_205, discrepancies: '[]' });
    expect(listCalls()).toBe(2);
  });
});

describe('a PG list that cannot be fetched', () => {
  it('fails the run with an alert and retries until the check succeeds', async () => {
    // A retry slower than settled()'s poll, so the run is seen resting as failed first.
    await rigs.restart({ retryBaseMs: 600 });
    await rig.charge('pay_1', 'p-1', 30_000, MORNING);
    rig.proxy.dropNext('GET', /^\/payments-by-cursor/, 2);
    const [settlement] = await rig.settle(DATE);
    expect(settlement!.status).toBe('failed');
    expect(await findRun(rig.db.read, DATE)).toMatchObject({ status: 'failed', state: 'failed' });
    expect(await rig.alerts()).toMatchObject([{ severity: 'warning', paymentId: null, title: expect.stringContaining('failed; it is retried') }]);
    // The retry is durable (due_at) and the poll takes it up: no request needed.
    await until(async () => (await listSettlements(rig.db.read, { date: DATE }))[0]!.status === 'completed');
    expect(listCalls()).toBe(3);
    expect(await findRun(rig.db.read, DATE)).toMatchObject({ status: 'completed', dueAt: null, leaseOwner: null });
  });

  it('never completes without the check', async () => {
    await rig.charge('pay_1', 'p-1', 30_000, MORNING);
    rig.proxy.dropNext('GET', /^\/payments-by-cursor/, 1_000);
    await rig.settle(DATE);
    await until(() => listCalls() >= 5);
    const settlement = (await listSettlements(rig.db.read, { date: DATE }))[0]!;
    expect(['failed', 'processing']).toContain(settlement.status);
    expect(settlement.completedAt).toBeNull();
    // Warning at the first failure, urgent once it keeps failing (the rig's urgentAfter is 3).
    expect((await rig.alerts()).map((a) => a.severity)).toEqual(['warning', 'urgent']);
  });
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
