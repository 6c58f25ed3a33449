import { describe, expect, it } from 'vitest';
import { newPaymentId } from '../../src/payments/create-payment.ts';

describe('payment ids', () => {
  it('are unique and well formed across refills of the entropy pool', () => {
    // 512 ids per refill: 1,600 ids cross three refills.
    const ids = Array.from({ length: 1600 }, () => newPaymentId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^pay_[0-9a-z]{9}[0-9a-f]{16}$/);
  });

  it('sort by creation time', () => {
    expect(newPaymentId(1_700_000_000_000) < newPaymentId(1_700_000_000_001)).toBe(true);
  });
});
