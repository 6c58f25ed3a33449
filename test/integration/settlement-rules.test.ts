import { describe, expect, it } from 'vitest';
import { findRun } from '../../db/settlement-runs-repo.ts';
import { listSettlementLines, type SettlementRow } from '../../db/settlements-repo.ts';
import { useSettlementRig, type SettlementRig } from '../support/settlement-rig.ts';

// Settlement rules on real SQLite, checked against a real mock PG whose books match ours
// unless a test edits them. Times are UTC; the business day is Seoul's (UTC+9, no DST).

let rig: SettlementRig;
useSettlementRig('settlement', (started) => (rig = started));

const of = (settlements: SettlementRow[], partnerId: string) => settlements.find((s) => s.partnerId === partnerId)!;
const figures = ({ paymentCount, grossAmount, refundCount, refundAmount, feeAmount, netAmount }: SettlementRow) => ({
  paymentCount,
  grossAmount,
  refundCount,
  refundAmount,
  feeAmount,
  netAmount,
});
const discrepanciesOf = (s: SettlementRow) => JSON.parse(s.discrepancies) as unknown[];

describe('the business day', () => {
  it('puts a charge at 23:59:59 KST and one at 00:00:00 KST on different dates', async () => {
    await rig.charge('pay_late', 'p-1', 10_000, '2026-11-30T14:59:59.000Z'); // 2026-11-30 23:59:59 KST
    await rig.charge('pay_early', 'p-1', 20_000, '2026-11-30T15:00:00.000Z'); // 2026-12-01 00:00:00 KST
    const nov30 = of(await rig.settle('2026-11-30'), 'p-1');
    const dec1 = of(await rig.settle('2026-12-01'), 'p-1');
    expect([nov30.status, dec1.status]).toEqual(['completed', 'completed']);
    expect(figures(nov30)).toMatchObject({ paymentCount: 1, grossAmount: 10_000 });
    expect(figures(dec1)).toMatchObject({ paymentCount: 1, grossAmount: 20_000 });
    expect((await listSettlementLines(rig.db.read, nov30.id)).map((l) => l.paymentId)).toEqual(['pay_late']);
    expect([discrepanciesOf(nov30), discrepanciesOf(dec1)]).toEqual([[], []]);
  });
});

describe('refunds and voids', () => {
  it('counts a partial and then a full refund on the days the money went back, not on the payment day', async () => {
    await rig.partner('p-1', 1_000); // 10 %
    await rig.charge('pay_1', 'p-1', 40_000, '2026-12-01T01:00:00.000Z');
    await rig.giveBack('pay_1', 'refund', 10_000, '2026-12-02T01:00:00.000Z');
    await rig.giveBack('pay_1', 'refund', 30_000, '2026-12-03T01:00:00.000Z');
    expect(figures(of(await rig.settle('2026-12-01'), 'p-1'))).toEqual({
      paymentCount: 1,
      grossAmount: 40_000,
      refundCount: 0,
      refundAmount: 0,
      feeAmount: 4_000,
      netAmount: 36_000,
    });
    // The fee stays with the payment's day: nothing of it comes back with the refunds.
    expect(figures(of(await rig.settle('2026-12-02'), 'p-1'))).toEqual({
      paymentCount: 0,
      grossAmount: 0,
      refundCount: 1,
      refundAmount: 10_000,
      feeAmount: 0,
      netAmount: -10_000,
    });
    const dec3 = of(await rig.settle('2026-12-03'), 'p-1');
    expect(figures(dec3)).toMatchObject({ refundCount: 1, refundAmount: 30_000, netAmount: -30_000 });
    expect(await listSettlementLines(rig.db.read, dec3.id)).toMatchObject([{ paymentId: 'pay_1', kind: 'refund', amount: 30_000, fee: 0 }]);
  });

  it('counts a void as money given back, on its own day, whatever day the charge was', async () => {
    await rig.charge('pay_same_day', 'p-1', 15_000, '2026-12-01T02:00:00.000Z');
    await rig.giveBack('pay_same_day', 'void', 15_000, '2026-12-01T02:00:05.000Z');
    await rig.charge('pay_next_day', 'p-1', 25_000, '2026-12-01T03:00:00.000Z');
    await rig.giveBack('pay_next_day', 'void', 25_000, '2026-12-02T03:00:00.000Z');
    expect(figures(of(await rig.settle('2026-12-01'), 'p-1'))).toEqual({
      paymentCount: 2,
      grossAmount: 40_000,
      refundCount: 1,
      refundAmount: 15_000,
      feeAmount: 0,
      netAmount: 25_000,
    });
    expect(figures(of(await rig.settle('2026-12-02'), 'p-1'))).toMatchObject({ refundAmount: 25_000, netAmount: -25_000 });
  });
});

describe('fees', () => {
  it("takes floor(amount × bps / 10000) per payment from a registered partner, nothing from an unregistered one", async () => {
    await rig.partner('p-fee', 250); // 2.5 %
    await rig.partner('p-idle', 300);
    await rig.charge('pay_a', 'p-fee', 10_001, '2026-12-01T01:00:00.000Z'); // 250.025 → 250
    await rig.charge('pay_b', 'p-fee', 39, '2026-12-01T02:00:00.000Z'); // 0.975 → 0
    await rig.charge('pay_c', 'p-unregistered', 50_000, '2026-12-01T03:00:00.000Z');
    const day = await rig.settle('2026-12-01');
    expect(figures(of(day, 'p-fee'))).toEqual({
      paymentCount: 2,
      grossAmount: 10_040,
      refundCount: 0,
      refundAmount: 0,
      feeAmount: 250,
      netAmount: 9_790,
    });
    expect((await listSettlementLines(rig.db.read, of(day, 'p-fee').id)).map((l) => l.fee)).toEqual([250, 0]);
    expect(figures(of(day, 'p-unregistered'))).toMatchObject({ grossAmount: 50_000, feeAmount: 0, netAmount: 50_000 });
    // A registered partner is settled every day, with nothing on a day it sold nothing.
    expect(figures(of(day, 'p-idle'))).toMatchObject({ paymentCount: 0, grossAmount: 0, netAmount: 0 });
    expect(day.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
  });

  it('computes a fee exactly on amounts where floating point would round', async () => {
    // Left to doubles, 9007199254740991 × 1 / 10000 is not an integer division.
    await rig.partner('p-big', 1);
    await rig.charge('pay_big', 'p-big', Number.MAX_SAFE_INTEGER, '2026-12-01T01:00:00.000Z');
    const day = await rig.settle('2026-12-01');
    expect(of(day, 'p-big').feeAmount).toBe(900_719_925_474);
  });
});

describe('running a date again', () => {
  it('replaces the figures, keeping one settlement per partner with the same id, and the same numbers when nothing changed', async () => {
    await rig.partner('p-1', 100);
    await rig.charge('pay_1', 'p-1', 30_000, '2026-12-01T01:00:00.000Z');
    const [first] = await rig.settle('2026-12-01');
    const [again] = await rig.settle('2026-12-01');
    expect(again!.id).toBe(first!.id);
    expect(figures(again!)).toEqual(figures(first!));
    expect(await listSettlementLines(rig.db.read, again!.id)).toHaveLength(1);
    expect(await findRun(rig.db.read, '2026-12-01')).toMatchObject({ requests: 2, status: 'completed' });

    await rig.charge('pay_2', 'p-1', 20_000, '2026-12-01T02:00:00.000Z');
    const [third] = await rig.settle('2026-12-01');
    expect(third!.id).toBe(first!.id);
    expect(figures(third!)).toMatchObject({ paymentCount: 2, grossAmount: 50_000, feeAmount: 500 });
    expect(await listSettlementLines(rig.db.read, third!.id)).toHaveLength(2);
  });
});
