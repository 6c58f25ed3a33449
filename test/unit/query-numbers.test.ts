import { describe, expect, it } from 'vitest';
import { deliveriesQuery, feedQuery } from '../../src/http/routes/payment-events.ts';
import { listQuery as settlementListQuery } from '../../src/http/routes/settlements.ts';
import { listQuery, productListQuery, waitQuery } from '../../src/http/schemas.ts';

// Numbers in query strings are decimal digits: Number() alone would read `0x10` as 16.

describe('numbers in query strings', () => {
  it('takes limits written in decimal digits, within their bounds, and defaults the rest', () => {
    expect(listQuery.parse({ limit: '100' }).limit).toBe(100);
    expect(listQuery.parse({}).limit).toBe(20);
    expect(productListQuery.parse({}).limit).toBe(100);
    expect(feedQuery.parse({ limit: '500' }).limit).toBe(500);
    expect(deliveriesQuery.parse({}).limit).toBe(20);
    expect(settlementListQuery.parse({ limit: '1000' }).limit).toBe(1_000);
  });

  it('refuses hexadecimal, exponents, spaces, decimals and values out of bounds', () => {
    for (const limit of ['0x10', '1e1', ' 5 ', '5.0', '', '0', '101', '-1', 'abc']) {
      expect(listQuery.safeParse({ limit }).success, limit).toBe(false);
    }
    expect(feedQuery.safeParse({ limit: '0x1f4' }).success).toBe(false);
    expect(settlementListQuery.safeParse({ limit: '1e3' }).success).toBe(false);
  });

  it('takes a wait of 0–30 seconds, fractions included, and nothing else', () => {
    for (const wait of ['0', '0.5', '10', '30']) expect(waitQuery.safeParse({ wait }).success, wait).toBe(true);
    for (const wait of ['0x1', '1e1', '31', '-1', '', ' 1']) expect(waitQuery.safeParse({ wait }).success, wait).toBe(false);
  });
});
