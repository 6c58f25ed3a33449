import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { retryPolicyFrom } from '../../src/payments/retry-policy.ts';

/** The longest a step can wait in all before it gives up: the backoff ceilings summed. */
function longestTotalWaitMs(baseMs: number, capMs: number, retries: number): number {
  let total = 0;
  for (let attempt = 0; attempt < retries; attempt++) total += Math.min(capMs, baseMs * 2 ** attempt);
  return total;
}

describe('the default retry policy', () => {
  const policy = retryPolicyFrom(loadConfig({}));

  it('gives a paid order’s fulfilment minutes, not seconds, before its money is given back', () => {
    const longest = longestTotalWaitMs(policy.baseMs, policy.capMs, policy.stepRetries);
    // Full jitter draws each wait below its ceiling: on average half of it.
    expect(longest / 2).toBeGreaterThanOrEqual(60_000);
    expect(longest).toBeLessThanOrEqual(10 * 60_000);
  });

  it('watches a payment whose charge went unanswered for a day, in a handful of lookups', () => {
    expect(policy.lateChargeWindowMs).toBe(24 * 3_600_000);
    expect(policy.lateChargeChecks).toBeLessThanOrEqual(8);
    expect(policy.inquiryAlertAfterMs).toBe(3_600_000);
  });
});
