// The rules of API.md "Partners and daily settlement", as plain functions a finance
// person can check by hand: integers only, fees floored, never returned.

export interface DayMovement {
  paymentId: string;
  partnerId: string;
  currency: string;
  kind: 'charge' | 'refund' | 'void';
  amount: number;
  at: number;
}

export interface SettlementLine {
  paymentId: string;
  kind: 'payment' | 'refund';
  amount: number;
  fee: number;
  at: number;
}

export interface PartnerFigures {
  partnerId: string;
  currency: string;
  paymentCount: number;
  grossAmount: number;
  refundCount: number;
  refundAmount: number;
  feeAmount: number;
  netAmount: number;
  lines: SettlementLine[];
}

/** The currency of a settlement with no payments (every product is sold in it). */
export const DEFAULT_CURRENCY = 'KRW';

/** floor(amount × bps / 10000), in BigInt so a large amount cannot lose a won to rounding. */
export function feeFor(amount: number, feeRateBps: number): number {
  return Number((BigInt(amount) * BigInt(feeRateBps)) / 10_000n);
}

/**
 * One settlement per partner: each registered partner (with nothing, if nothing moved)
 * and each partner whose money moved on the day. A charge is a payment line with its
 * fee; a refund or a void is a refund line, without one. `feeRates` holds registered
 * partners only: anyone else pays no fee.
 */
export function settleDay(movements: readonly DayMovement[], feeRates: ReadonlyMap<string, number>): PartnerFigures[] {
  const byPartner = new Map<string, PartnerFigures>();
  const figuresOf = (partnerId: string, currency: string) => {
    let figures = byPartner.get(partnerId);
    if (!figures) {
      figures = { partnerId, currency, paymentCount: 0, grossAmount: 0, refundCount: 0, refundAmount: 0, feeAmount: 0, netAmount: 0, lines: [] };
      byPartner.set(partnerId, figures);
    }
    return figures;
  };
  for (const partnerId of feeRates.keys()) figuresOf(partnerId, DEFAULT_CURRENCY);
  for (const movement of movements) {
    const figures = figuresOf(movement.partnerId, movement.currency);
    figures.currency = movement.currency;
    if (movement.kind === 'charge') {
      const fee = feeFor(movement.amount, feeRates.get(movement.partnerId) ?? 0);
      figures.lines.push({ paymentId: movement.paymentId, kind: 'payment', amount: movement.amount, fee, at: movement.at });
      figures.paymentCount += 1;
      figures.grossAmount += movement.amount;
      figures.feeAmount += fee;
    } else {
      figures.lines.push({ paymentId: movement.paymentId, kind: 'refund', amount: movement.amount, fee: 0, at: movement.at });
      figures.refundCount += 1;
      figures.refundAmount += movement.amount;
    }
  }
  for (const figures of byPartner.values()) figures.netAmount = figures.grossAmount - figures.refundAmount - figures.feeAmount;
  return [...byPartner.values()].sort((a, b) => (a.partnerId < b.partnerId ? -1 : a.partnerId > b.partnerId ? 1 : 0));
}
