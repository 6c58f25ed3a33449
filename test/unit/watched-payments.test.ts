import { describe, expect, it } from 'vitest';
import { watchedPayments } from '../../src/inspect/payment-inspector.ts';

describe('payments shown to the inspector', () => {
  const ids = Array.from({ length: 2_000 }, (_, i) => `pay_${i}`);

  it('are exactly those named, when named', () => {
    const watched = watchedPayments({ paymentIds: new Set(['pay_7', 'pay_9']), sampleRate: 1 });
    expect(ids.filter(watched)).toEqual(['pay_7', 'pay_9']);
  });

  it('are otherwise a share of all, the same ones each time a payment comes back', () => {
    const tenth = watchedPayments({ paymentIds: undefined, sampleRate: 0.1 });
    const share = ids.filter(tenth).length / ids.length;
    expect(share).toBeGreaterThan(0.07);
    expect(share).toBeLessThan(0.13);
    expect(ids.filter(tenth)).toEqual(ids.filter(watchedPayments({ paymentIds: undefined, sampleRate: 0.1 })));
    expect(ids.filter(watchedPayments({ paymentIds: undefined, sampleRate: 0 }))).toEqual([]);
    expect(ids.filter(watchedPayments({ paymentIds: undefined, sampleRate: 1 }))).toHaveLength(ids.length);
  });
});
