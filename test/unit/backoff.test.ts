import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../machines/backoff.ts';

describe('backoffMs', () => {
  it('stays below the doubling ceiling and the cap', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(60_000, 500 * 2 ** attempt);
      for (const seed of ['a', 'b', 'pay_1', 'pay_2']) {
        const wait = backoffMs(attempt, seed, 500, 60_000);
        expect(wait).toBeGreaterThanOrEqual(0);
        expect(wait).toBeLessThanOrEqual(ceiling);
        expect(Number.isInteger(wait)).toBe(true);
      }
    }
  });

  it('is the same for the same payment and attempt', () => {
    expect(backoffMs(3, 'pay_x', 500, 60_000)).toBe(backoffMs(3, 'pay_x', 500, 60_000));
  });

  it('spreads payments that fail together', () => {
    const waits = new Set(Array.from({ length: 50 }, (_, i) => backoffMs(4, `pay_${i}`, 500, 60_000)));
    expect(waits.size).toBeGreaterThan(40);
  });
});
